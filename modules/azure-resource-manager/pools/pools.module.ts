import { Module } from '@nestjs/common';
import { PoolInstanceRepository } from './pool-instance.repository';

/** Hot/cold instance pools: the instance table and its atomic claim and slot reservation. */
@Module({ providers: [PoolInstanceRepository], exports: [PoolInstanceRepository] })
export class PoolsModule {}
