/**
 * The part of `s3rver` (3.7.x, a fake S3 server for tests) the tests use.
 * The package ships no types.
 */
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';

  namespace S3rver {
    interface Options {
      readonly address?: string;
      /** 0: any free port; `run()` answers the one chosen. */
      readonly port?: number;
      /** Where buckets and objects are kept as files. */
      readonly directory?: string;
      readonly silent?: boolean;
      /** Removes every bucket and object from `directory` when closed. */
      readonly resetOnClose?: boolean;
      readonly configureBuckets?: readonly { readonly name: string }[];
    }
  }

  class S3rver {
    constructor(options?: S3rver.Options);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }

  export = S3rver;
}
