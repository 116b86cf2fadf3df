import { FakeRoleStore } from './fakes';
import { describeRoleStore } from './support/role-store-contract';

// The fake the cache tests use keeps the same contract as the real stores, so what those tests
// learn about the caches holds against a real backend.
describeRoleStore('in-memory fake', async () => {
  const store = new FakeRoleStore();
  return { store, invalidations: async () => store.invalidations, close: async () => undefined };
});
