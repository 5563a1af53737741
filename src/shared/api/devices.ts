import {
  apiRoutes,
  deviceKeyListSchema,
  deviceKeySchema,
  type DeviceKey,
  type RegisterDeviceRequest,
} from '@/core/contract';
import { request } from './request';

/** ID-6: registers this browser's device public key under the signed-in operator. */
export function registerDevice(body: RegisterDeviceRequest): Promise<DeviceKey> {
  return request({ route: apiRoutes.registerDevice, body, schema: deviceKeySchema });
}

export function listDevices(): Promise<DeviceKey[]> {
  return request({ route: apiRoutes.listDevices, schema: deviceKeyListSchema }).then(
    (list) => list.devices,
  );
}
