export * from './names';
export * from './messages';
export * from './codec';
export * from './api';
export * from './redact-url';
