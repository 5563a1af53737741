export * from './errors';
export * from './identity';
export * from './routes';
export * from './site';
