import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../../../src/persistence/columns';

/** A template parameter recognised in main-template.json and how the service fills it. */
export interface RecognisedParameter {
  name: string;
  /** ARM type as declared ("string", "securestring", "int", ...). */
  armType: string;
  /** Lower-cased metadata.type (baseuri | sessionid | username | password), or null when it has a default. */
  metadataType: string | null;
  hasDefault: boolean;
  /**
   * Where its value comes from (issue 13): generated (user name, password), session (id), package (base
   * URI), default (a literal checked against the parameter's constraints), default-expression (checked by
   * ARM at publish). Absent in revisions stored before.
   */
  valueSource?: 'generated' | 'package' | 'session' | 'default' | 'default-expression';
  /** password: the length generated (10 unless minLength asks for more). */
  passwordLength?: number;
}

/**
 * One uploaded ARM template package, unzipped into its own blob container whose URL is the
 * revision's base URI (Partner Center: "each package revision is unzipped into its own container").
 */
@Entity('package_revision')
@Index('UQ_package_revision_offer_number', ['offerId', 'number'], { unique: true })
export class PackageRevisionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 50 })
  offerId!: string;

  /** 1, 2, 3... per offer. */
  @Column({ type: 'integer' })
  number!: number;

  @Column({ type: 'varchar', length: 63 })
  containerName!: string;

  /** Ends with '/'. Templates receive it through the `baseuri` parameter. */
  @Column({ type: 'varchar', length: 1024 })
  baseUri!: string;

  @Column({ type: 'simple-json' })
  parameters!: RecognisedParameter[];

  /** [{ path, bytes }] of the unzipped files. */
  @Column({ type: 'simple-json' })
  files!: Array<{ path: string; bytes: number }>;

  /** Total uncompressed bytes. */
  @Column({ type: 'integer' })
  totalBytes!: number;

  /**
   * Microsoft.Compute/virtualMachines resources declared in the package's templates (warm instances need
   * at least one, issue 12); null for revisions stored before it was counted (not checked).
   */
  @Column({ type: 'integer', nullable: true })
  virtualMachines?: number | null;

  /** Resource types the package's templates declare (declaredResourceTypes), for the publish preflight; null before issue 13. */
  @Column({ type: 'simple-json', nullable: true })
  resourceTypes?: string[] | null;

  @Column(timestampColumn(false))
  createdAt!: number;
}
