import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CacheStats } from '@authcache/protocol';

/** What a node says about itself on every heartbeat (the membership adds when it was seen). */
export interface HeartbeatContent {
  address: string;
  applied_seq: number;
  /** informational only (this node's own clock): never compared across nodes */
  started: number;
  cache: Record<string, CacheStats>;
}

/** The signed part of a heartbeat. It carries no time: only Redis stamps it (docs/architecture.md, Membership). */
export interface Heartbeat extends HeartbeatContent {
  id: string;
  left?: boolean;
}

/** A heartbeat as read back from the members hash, with what Redis added when it stored it. */
export interface StoredHeartbeat {
  id: string;
  /** Redis TIME (ms) when the heartbeat was written */
  stampMs: number;
  /** the cluster seq in Redis when the heartbeat was written */
  seqAtBeat: number;
  hb: Heartbeat;
}

export type RejectReason = 'garbled' | 'bad signature' | 'wrong id';

export type Decoded = ({ ok: true } & StoredHeartbeat) | { ok: false; id: string; reason: RejectReason; stampMs: number | undefined };

/**
 * Stored value: `ac1|<redis ms>|<seq at beat>|<hmac hex>|<json>`. The node sends `<hmac hex>|<json>`;
 * the heartbeat script prepends the first three fields, so the time in it is Redis's, not the node's.
 */
export const STORED_PREFIX = 'ac1';

const KEY_LABEL = 'authcache heartbeat key v1';
const MARKER_LABEL = 'authcache secret check';
const SIG_HEX = /^[0-9a-f]{64}$/;

/** The marker a node with this secret expects in Redis; an HMAC of a fixed text, never the secret itself. */
export function secretMarker(secret: string): string {
  return createHmac('sha256', secret).update(MARKER_LABEL).digest('hex');
}

/** Constant-time equality of two strings (markers, signatures). */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Signs and checks heartbeats with a key derived from the cluster secret, distinct from the key
 * that signs ConfigUpdate frames, so that neither signature can stand for the other.
 */
export class HeartbeatCodec {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update(KEY_LABEL).digest();
  }

  /** `<hmac hex>|<json>`: what the heartbeat script receives. */
  sign(hb: Heartbeat): string {
    const json = JSON.stringify(hb);
    return `${this.mac(hb.id, json)}|${json}`;
  }

  /** Never throws: anything unreadable, unsigned or signed with another key comes back as a reject. */
  decode(id: string, stored: unknown): Decoded {
    const reject = (reason: RejectReason, stampMs?: number): Decoded => ({ ok: false, id, reason, stampMs });
    if (typeof stored !== 'string') return reject('garbled');
    const parts = splitN(stored, 4);
    if (!parts || parts[0] !== STORED_PREFIX) return reject('garbled');
    const [, stampRaw, seqRaw, sig, json] = parts;
    const stampMs = /^\d{1,16}$/.test(stampRaw!) ? Number(stampRaw) : undefined;
    if (stampMs === undefined || !/^\d{1,16}$/.test(seqRaw!)) return reject('garbled', stampMs);
    if (!SIG_HEX.test(sig!) || !sameText(sig!, this.mac(id, json!))) return reject('bad signature', stampMs);
    let hb: unknown;
    try {
      hb = JSON.parse(json!);
    } catch {
      return reject('garbled', stampMs);
    }
    if (!isHeartbeat(hb)) return reject('garbled', stampMs);
    if (hb.id !== id) return reject('wrong id', stampMs);
    return { ok: true, id, stampMs, seqAtBeat: Number(seqRaw), hb };
  }

  private mac(id: string, json: string): string {
    // The hash field (the id) is signed too: a heartbeat cannot be copied under another member's name.
    return createHmac('sha256', this.key).update(`${id}\n${json}`).digest('hex');
  }
}

/** The first n `|`-separated fields and the rest (which may itself hold `|`), or undefined. */
function splitN(s: string, n: number): string[] | undefined {
  const out: string[] = [];
  let from = 0;
  for (let i = 0; i < n; i++) {
    const at = s.indexOf('|', from);
    if (at < 0) return undefined;
    out.push(s.slice(from, at));
    from = at + 1;
  }
  out.push(s.slice(from));
  return out;
}

function isHeartbeat(v: unknown): v is Heartbeat {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const h = v as Record<string, unknown>;
  return (
    typeof h.id === 'string' &&
    typeof h.address === 'string' &&
    Number.isSafeInteger(h.applied_seq) &&
    (h.applied_seq as number) >= 0 &&
    typeof h.started === 'number' &&
    typeof h.cache === 'object' &&
    h.cache !== null &&
    !Array.isArray(h.cache) &&
    (h.left === undefined || typeof h.left === 'boolean')
  );
}
