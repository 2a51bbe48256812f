export * from './admin-connection';
export * from './backends';
export {
  checkClusterInvariants,
  checkDatabaseInvariants,
  ProvisioningInvariantError,
} from './invariants';
export { prepareCluster } from './cluster-hardening';
export {
  CONTROL_DATABASE,
  dropDatabase,
  hardenExistingDatabases,
  newPhysicalDatabase,
  provisionDatabase,
  repairRoleLogins,
  type PhysicalDatabase,
} from './provisioner';
export * from './sql';
