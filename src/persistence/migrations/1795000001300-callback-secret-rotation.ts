import { MigrationInterface, QueryRunner } from 'typeorm';
import { column } from '../ddl';

/**
 * Marketplace callbacks keep their signing secret across PUTs and rotate it on request
 * (POST /notifications/rotate-secret): callback_subscription.previousSecretVersion (Key Vault version of
 * the secret before the last rotation) and previousSecretExpiresAt (clock ms): until then deliveries carry a
 * signature by each secret.
 */
export class CallbackSecretRotation1795000001300 implements MigrationInterface {
  name = 'CallbackSecretRotation1795000001300';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('callback_subscription', column('previousSecretVersion varchar(64) null'));
    await q.addColumn('callback_subscription', column('previousSecretExpiresAt bigint null'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('callback_subscription', 'previousSecretExpiresAt');
    await q.dropColumn('callback_subscription', 'previousSecretVersion');
  }
}
