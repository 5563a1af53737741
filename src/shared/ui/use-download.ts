/**
 * Hands bytes to the browser as a download (receipts BK-10, registration
 * files BK-9). The object URL lives only as long as the click needs it.
 */
export function useDownload() {
  function download(
    bytes: Uint8Array<ArrayBuffer>,
    fileName: string,
    type = 'application/json',
  ): void {
    const url = URL.createObjectURL(new Blob([bytes], { type }));
    const link = document.createElement('a');
    link.href = url;
    link.download = fileName;
    link.rel = 'noopener';
    link.style.display = 'none';
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
  return { download };
}

/** A file name made from a volume ID: safe on every file system. */
export function fileNameFor(volumeId: string, suffix: string): string {
  const safe = volumeId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);
  return `${safe}-${suffix}`;
}
