import { expect, type Page } from '@playwright/test';

export const demoPassword = (userId: string): string => `custodian-${userId}`;

/** Signs in through the login form, as a person does. */
export async function signIn(
  page: Page,
  userId: string,
  password = demoPassword(userId),
): Promise<void> {
  await page.goto('/login');
  await page.getByRole('textbox', { name: 'User ID' }).fill(userId);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}
