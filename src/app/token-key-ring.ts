import type { KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { KeyEncryptionService } from '../keys/kms.js';
import type { Store } from '../store/store.js';
import { longestLifetimeSeconds } from '../verifier/token-lifetime.js';
import {
  jwksFromKeys,
  keysToPublish,
  signingHistory,
  TOKEN_KEY_REFRESH_SECONDS,
  type KeyRotation,
  type PublishedJwk,
  type PublishedJwks,
} from '../verifier/token-keys.js';
import { tokenKeyRotations, unsealTokenKey } from './token-key-rotation.js';

export interface TokenKeyRingOptions {
  readonly store: Store;
  readonly tenant: string;
  readonly clock: Clock;
  /** Seals new keys and unseals the ones other replicas made. */
  readonly kms: KeyEncryptionService;
  /** `keys/<tenant>/token.pem`: the key until the first online rotation. */
  readonly first: KeyObject;
  /** `keys/<tenant>/retired/`: keys rotated offline before online rotation existed. */
  readonly settled?: readonly KeyRotation[];
  /** As the attestation service is configured: how long a retired key stays published. */
  readonly tokenLifetimeSeconds?: number;
  readonly tokenJitter?: number;
}

/**
 * The tenant's token keys as every replica must see them: the one that signs now and
 * those the JWKS lists. Read from the ledger (`token-key.rotated`) at most every
 * `TOKEN_KEY_REFRESH_SECONDS` and at once after a rotation on this replica, so signing a
 * token never waits on more than that one read; another replica's rotation takes over
 * here within the interval, which the publication window of the retired key allows for
 * (`signingHistory`).
 */
export class TokenKeyRing {
  readonly kms: KeyEncryptionService;
  readonly #options: TokenKeyRingOptions;
  readonly #longest: number;
  #signing: KeyObject;
  #published: readonly KeyRotation<PublishedJwk>[] = [];
  /** Unsealed keys by kid: a rotation is unsealed once per replica. */
  readonly #unsealed = new Map<string, KeyObject>();
  #readAt = Number.NEGATIVE_INFINITY;
  /** Bumped by each invalidation, so that a read begun before a rotation does not count as fresh. */
  #generation = 0;
  #reading: Promise<void> | undefined;

  private constructor(options: TokenKeyRingOptions) {
    this.#options = options;
    this.kms = options.kms;
    this.#signing = options.first;
    this.#longest = longestLifetimeSeconds(options.tokenLifetimeSeconds, options.tokenJitter);
  }

  /** A ring read once: a server starts only once it knows which key signs. */
  static async open(options: TokenKeyRingOptions): Promise<TokenKeyRing> {
    const ring = new TokenKeyRing(options);
    await ring.#read();
    return ring;
  }

  /** The key that signs a token now. */
  async signingKey(): Promise<KeyObject> {
    if (this.#stale()) await this.#read();
    return this.#signing;
  }

  /**
   * The JWKS now, from the last read; a stale one starts another in the background (the
   * route is anonymous: its cost stays one shared read per interval whoever calls).
   */
  jwks(): PublishedJwks {
    if (this.#stale()) this.#read().catch(() => {});
    return { keys: keysToPublish(this.#published, this.#options.clock(), this.#longest) };
  }

  /** How long a key retired now stays published: until a token it signed on any replica has expired. */
  retiredKeyPublishedUntil(rotatedAt: Date): Date {
    return new Date(rotatedAt.getTime() + (TOKEN_KEY_REFRESH_SECONDS + this.#longest) * 1000);
  }

  /** After a rotation on this replica: the next token is signed by the new key. */
  invalidate(): void {
    this.#generation += 1;
    this.#readAt = Number.NEGATIVE_INFINITY;
  }

  #stale(): boolean {
    return this.#options.clock().getTime() - this.#readAt >= TOKEN_KEY_REFRESH_SECONDS * 1000;
  }

  #read(): Promise<void> {
    // Concurrent attestations share one read.
    this.#reading ??= (async () => {
      try {
        const { store, tenant, kms, first, settled = [], clock } = this.#options;
        const generation = this.#generation;
        const now = clock();
        const rotations = await tokenKeyRotations(store.db, tenant);
        const newest = rotations.at(-1);
        let signing = first;
        if (newest !== undefined) {
          signing = this.#unsealed.get(newest.kid) ?? (await unsealTokenKey(store.db, kms, tenant, newest));
          // Only the newest key signs; older ones are published from their ledger JWKs.
          this.#unsealed.clear();
          this.#unsealed.set(newest.kid, signing);
        }
        const fileKeys = (await jwksFromKeys([...settled.map((rotation) => rotation.key), first])).keys;
        const history = signingHistory(
          settled.map((rotation, i) => ({ ...rotation, key: fileKeys[i]! })),
          fileKeys.at(-1)!,
          rotations.map((rotation): { key: PublishedJwk; at: Date } => ({ key: { ...rotation.jwk, kid: rotation.kid, alg: 'ES256', use: 'sig' }, at: rotation.at })),
          TOKEN_KEY_REFRESH_SECONDS,
        );
        this.#signing = signing;
        this.#published = history;
        if (generation === this.#generation) this.#readAt = now.getTime();
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }
}

