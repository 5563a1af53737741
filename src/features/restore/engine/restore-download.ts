/**
 * RS-6: hands a verified image to the user. By default a browser download
 * that starts by itself, through an object URL of the finished file (a
 * disk-backed File of the origin private file system, never a buffer of the
 * whole image); "Save to file…" writes it through the File System Access API
 * where the browser has it, streaming.
 */

/** How long the object URL of a download stays valid: the browser reads the file meanwhile. */
export const DOWNLOAD_URL_LIFETIME_MS = 120_000;

/** Starts a browser download of `file` under `fileName`. */
export function startDownload(file: Blob, fileName: string): void {
  const url = URL.createObjectURL(file);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.rel = 'noopener';
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), DOWNLOAD_URL_LIFETIME_MS);
}

interface SaveFilePickerWindow {
  showSaveFilePicker(options: { suggestedName: string }): Promise<FileSystemFileHandle>;
}

/** True where the browser can write a chosen file directly (File System Access API). */
export function canSaveToFile(): boolean {
  return typeof window !== 'undefined' && 'showSaveFilePicker' in window;
}

/**
 * Lets the user choose where to save the image and streams it there.
 * Resolves false when the user closed the picker.
 */
export async function saveToChosenFile(file: Blob, fileName: string): Promise<boolean> {
  let handle: FileSystemFileHandle;
  try {
    handle = await (window as unknown as SaveFilePickerWindow).showSaveFilePicker({
      suggestedName: fileName,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') return false;
    throw error;
  }
  const writable = await handle.createWritable();
  await file.stream().pipeTo(writable);
  return true;
}
