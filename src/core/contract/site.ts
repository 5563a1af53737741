import { z } from 'zod';

const healthCheckSchema = z.object({
  status: z.enum(['ok', 'degraded', 'failing']),
  reason: z.string().optional(),
});
/** Where the site keeps chunk blobs; an object store's credentials are never part of it. */
export const objectStoreHealthSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('filesystem') }),
  z.object({
    kind: z.literal('s3'),
    endpoint: z.string(),
    bucket: z.string(),
    /** Whether the bucket answered just now (HeadBucket); when not, the site is failing. */
    reachable: z.boolean(),
    reason: z.string().optional(),
  }),
]);
export type ObjectStoreHealth = z.infer<typeof objectStoreHealthSchema>;

/** The database check, with its engine and, for PostgreSQL, whether its server answered just now. */
const databaseHealthSchema = healthCheckSchema.extend({
  kind: z.enum(['sqlite', 'postgresql']).optional(),
  reachable: z.boolean().optional(),
});

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded', 'failing']),
  version: z.string(),
  database: databaseHealthSchema.optional(),
  disk: healthCheckSchema.extend({ freeBytes: z.number().optional() }).optional(),
  objectStore: objectStoreHealthSchema.optional(),
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
