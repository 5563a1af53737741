import {
  apiRoutes,
  deviceKeyListSchema,
  deviceKeySchema,
  type DeviceKey,
  type RegisterDeviceRequest,
} from '@/core/contract';
import { request, type SiteAddress } from './request';

/** ID-6: registers this browser's device public key under the signed-in operator; `site` for another site (MS-3). */
export function registerDevice(
  body: RegisterDeviceRequest,
  site?: SiteAddress,
): Promise<DeviceKey> {
  return request({ route: apiRoutes.registerDevice, body, schema: deviceKeySchema, site });
}

export function listDevices(): Promise<DeviceKey[]> {
  return request({ route: apiRoutes.listDevices, schema: deviceKeyListSchema }).then(
    (list) => list.devices,
  );
}
