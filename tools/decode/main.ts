/**
 * Independent decoder (docs/FORMAT.md): restores an image from a manifest,
 * a keys file (`npm run site -- export-key`) and a directory of chunk blobs
 * named by chunk ID, with node:crypto only.
 *
 *   npm run decode -- --manifest M --keys K --chunks DIR --out FILE [--force]
 *
 * Exit status: 0 restored and verified; 1 verification or I/O failure;
 * 2 wrong usage.
 */

import { parseArgs } from 'node:util';
import { DecodeError } from './format';
import { decodeImage } from './decode';

const USAGE = `Usage: npm run decode -- --manifest FILE --keys FILE --chunks DIR --out FILE [--force]

Restores a Custodian image from exported ciphertext and checks it completely:
the manifest signature, every chunk against the signed index, AES-GCM, the
chunk IDs, and the image's size and SHA-256.

  --manifest FILE  the generation's signed manifest (JSON)
  --keys FILE      the volume's keys file from "npm run site -- export-key"
  --chunks DIR     directory of chunk blobs, each named by its chunk ID in hex
  --out FILE       where to write the image (refused if it exists)
  --force          replace --out if it exists
  --help           show this text`;

function main(argv: string[]): number {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        manifest: { type: 'string' },
        keys: { type: 'string' },
        chunks: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`decode: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const missing = ['manifest', 'keys', 'chunks', 'out'].filter(
    (name) => typeof values[name] !== 'string' || values[name] === '',
  );
  if (missing.length > 0) {
    process.stderr.write(
      `decode: missing ${missing.map((m) => `--${m}`).join(', ')}\n\n${USAGE}\n`,
    );
    return 2;
  }
  try {
    const result = decodeImage({
      manifestPath: values.manifest as string,
      keysPath: values.keys as string,
      chunksDir: values.chunks as string,
      outPath: values.out as string,
      force: values.force === true,
    });
    process.stdout.write(
      `Restored ${result.fileName} (volume ${result.volumeId}, generation ${result.generation}): ` +
        `${result.size} bytes in ${result.chunks} chunks, SHA-256 ${result.imageSha256}, verified.\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof DecodeError) {
      process.stderr.write(`decode: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(
      `decode: unexpected failure: ${(error as Error).stack ?? String(error)}\n`,
    );
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
