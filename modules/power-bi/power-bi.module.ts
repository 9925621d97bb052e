import { Module } from '@nestjs/common';
import { OffersModule } from '../../src/offers/offers.module';
import { SessionsModule } from '../../src/sessions/sessions.module';
import { PowerBiTestDriveType } from './power-bi-test-drive.type';

/** Power BI test drives: an embedded Power BI link, ready at once (docs/power-bi.md). */
@Module({ imports: [OffersModule, SessionsModule], providers: [PowerBiTestDriveType] })
export class PowerBiModule {}
