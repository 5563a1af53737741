import { expect, type Locator } from '@playwright/test';

/**
 * Waits until a chart's canvas shows the same picture on two looks in a
 * row: ECharts has finished its drawing animation, so a screenshot shows
 * the chart as a person sees it, without a fixed sleep that may be too
 * short on a loaded machine and is always too long on an idle one.
 */
export async function chartSettled(canvas: Locator): Promise<void> {
  let previous = '';
  await expect
    .poll(
      async () => {
        const picture = await canvas.evaluate((c) => (c as HTMLCanvasElement).toDataURL());
        const same = picture === previous;
        previous = picture;
        return same;
      },
      { intervals: [200], message: 'the chart stopped changing' },
    )
    .toBe(true);
}
