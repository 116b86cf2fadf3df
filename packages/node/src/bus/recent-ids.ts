/**
 * The replay filter's memory: the ids of the updates applied most recently, oldest forgotten first
 * once `max` are held (docs/architecture.md, "Propagation").
 */
/** Ids remembered to tell a replay (an old signed frame under a new seq) from a new update. */
const SEEN_IDS = 10_000;

export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly max = SEEN_IDS) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
  }
}
