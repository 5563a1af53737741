import { z } from 'zod';

const healthCheckSchema = z.object({
  status: z.enum(['ok', 'degraded', 'failing']),
  reason: z.string().optional(),
});
export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded', 'failing']),
  version: z.string(),
  database: healthCheckSchema.optional(),
  disk: healthCheckSchema.extend({ freeBytes: z.number().optional() }).optional(),
});
export type Health = z.infer<typeof healthSchema>;

/** A public key of the site with its fingerprint (SHA-256 of the SPKI, hex). */
export const sitePublicKeySchema = z.object({
  jwk: z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string() }),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
});
export type SitePublicKey = z.infer<typeof sitePublicKeySchema>;

export const siteInfoSchema = z.object({
  siteId: z.string(),
  name: z.string(),
  version: z.string(),
  demo: z.boolean(),
  /** ECDH P-256: keys are wrapped to it for escrow (BK-8). */
  escrowKey: sitePublicKeySchema,
  /** ECDSA P-256: receipts are signed with it (BK-10). */
  signingKey: sitePublicKeySchema,
});
export type SiteInfo = z.infer<typeof siteInfoSchema>;
