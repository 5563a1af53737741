import { defineStore } from 'pinia';
import { ref } from 'vue';
import { fetchSiteInfo } from '@/shared/api/site';
import type { SiteInfo } from '@/core/contract';

/** What the escrow site says about itself (name, version, ID, demo mode). */
export const useSiteStore = defineStore('site', () => {
  const info = ref<SiteInfo | null>(null);
  const loading = ref(false);
  const error = ref<unknown>(null);

  async function load(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      info.value = await fetchSiteInfo();
    } catch (cause) {
      error.value = cause;
    } finally {
      loading.value = false;
    }
  }

  return { info, loading, error, load };
});
