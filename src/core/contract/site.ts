import { z } from 'zod';

export const healthSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
});
export type Health = z.infer<typeof healthSchema>;

export const siteInfoSchema = z.object({
  siteId: z.string(),
  name: z.string(),
  version: z.string(),
  demo: z.boolean(),
});
export type SiteInfo = z.infer<typeof siteInfoSchema>;
