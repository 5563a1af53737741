/**
 * How a backup's transfer stream and the pair engine meet (RC-1..RC-5): a
 * running backup attaches its stream so that instructions from the site
 * (suspend, resume, rekey) act on it, and reports what the site did with
 * its transfers so that the pair's state follows. No Vue here.
 */

/** A running backup's transfer stream, as the pair engine may steer it. */
export interface PairStream {
  readonly volumeId: string;
  readonly pairId: string;
  /**
   * RC-5: with `drain`, sends what is queued now and nothing after it;
   * without, sends nothing more at once. Resolves with the cut: the highest
   * sequence number the site acknowledged (0 if none in this run).
   */
  suspend(options: { drain: boolean }): Promise<number>;
  /** Sends again after a suspension. */
  resume(): void;
  /**
   * RC-4 "rekey now": a new epoch key from the next chunk on, escrowed and
   * announced before any chunk under it. Resolves with the new epoch once
   * it is queued, or null when this backup has no chunk left to encrypt.
   */
  rekey(): Promise<number | null>;
  /** Figures for the heartbeat. */
  status(): PairStreamStatus;
}

export interface PairStreamStatus {
  /** Highest sequence number handed out so far (0 if none). */
  readonly seqSent: number;
  readonly epoch: number;
  readonly nextRotationAt: string | null;
  readonly bytesPerSecond: number | null;
}

/** What a backup run tells the pair engine. */
export interface PairLink {
  /** Attaches a running stream; call the returned function when the run ends. */
  attach(stream: PairStream): () => void;
  /** The site answered a transfer (true) or could not be reached (false). */
  reachability(volumeId: string, reachable: boolean): void;
  /** The site refused a transfer: the pair is PSUE with the site's message (RC-3). */
  rejected(volumeId: string, message: string): void;
  /** A generation was written or acknowledged: beat now rather than on the next tick. */
  changed(volumeId: string): void;
}
