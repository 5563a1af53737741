/**
 * BK-5 release policy, as it appears in signed documents (receipts and
 * registration files). The site enforces it; here it is only a value that
 * gets signed and compared.
 */

import { z } from 'zod';
import { timestampSchema } from './format-schemas';

export const releasePolicyKinds = ['one-time', 'once-per-restorer', 'reusable'] as const;

export const releasePolicySchema = z.strictObject({
  kind: z.enum(releasePolicyKinds),
  /** Each release waits for another administrator's approval. */
  approvalRequired: z.boolean(),
  /** No release after this instant; null for no expiry. */
  expiresAt: timestampSchema.nullable(),
});

export type ReleasePolicy = z.infer<typeof releasePolicySchema>;
