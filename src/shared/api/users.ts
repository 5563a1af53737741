import { apiRoutes, restorerListSchema, type RestorerList } from '@/core/contract';
import { request } from './request';

/** BK-4: the people who may be named as restorers. */
export function fetchRestorers(): Promise<RestorerList['users']> {
  return request({ route: apiRoutes.listRestorers, schema: restorerListSchema }).then(
    (list) => list.users,
  );
}
