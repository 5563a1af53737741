export * from './alerts';
export * from './audit';
export * from './errors';
export * from './events';
export * from './identity';
export * from './routes';
export * from './site';
export * from './volumes';
