// The NATS cluster starter lives in bench/ (bench/failover.ts uses it too).
export { startNatsCluster, waitForMqtt, type NatsCluster, type NatsClusterOptions, type NatsNode } from '../../bench/nats-cluster.js';
