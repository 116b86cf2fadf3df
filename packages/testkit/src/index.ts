export { waitFor, type WaitForOptions } from './wait-for';
export { freePort, portInUse } from './free-port';
export { startRedis, NO_REDIS_MESSAGE, type RedisHandle, type RedisSource, type StartRedisOptions } from './redis';
export { startNode, nodeEnv, type NodeHandle, type NodeOptions } from './node-process';
export { startCluster, type ClusterHandle, type ClusterOptions } from './cluster';
export { repoRoot, defaultNodeEntry } from './repo-root';
export { startTcpProxy, type TcpProxy, type CutMode } from './tcp-proxy';
export { track } from './child-reaper';
export { withConnection } from './redis-commands';
