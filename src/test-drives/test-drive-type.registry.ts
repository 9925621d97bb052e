import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { TestDriveType } from './test-drive-type';

/** The test drive types this service runs. Each module under modules/ registers its type at start. */
@Injectable()
export class TestDriveTypeRegistry {
  private readonly types = new Map<string, TestDriveType>();

  /** Adds a type. @throws Error if the type name is registered twice. */
  register(type: TestDriveType): void {
    if (this.types.has(type.type)) throw new Error(`Test drive type '${type.type}' is registered twice`);
    this.types.set(type.type, type);
  }

  /** The type by wire name. @throws ApiError 400 naming the known types. */
  get(name: string): TestDriveType {
    const t = this.types.get(name);
    if (!t) {
      throw ApiError.validation([
        { code: 'UnknownTestDriveType', target: 'testDrive.type', message: `Unknown test drive type '${name}'. Known types: ${this.names().join(', ')}.` },
      ]);
    }
    return t;
  }

  has(name: string): boolean {
    return this.types.has(name);
  }

  names(): string[] {
    return [...this.types.keys()];
  }

  all(): TestDriveType[] {
    return [...this.types.values()];
  }
}
