// The two sidecar calls, /ready and /done, over plain HTTP on 127.0.0.1 (node's standard library only).
import * as http from "node:http";

/** A refused sidecar call. `message` is the sidecar's own explanation, which names the offending file. */
export class SidecarError extends Error {
  constructor(
    readonly call: string,
    readonly statusCode: number,
    readonly sidecarMessage: string,
  ) {
    super(`sidecar ${call} failed (${statusCode}): ${sidecarMessage}`);
    this.name = "SidecarError";
  }
}

// Connection-level failures mean "the sidecar is not listening yet": keep trying.
const NOT_UP_YET = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ECONNABORTED"]);

function notUpYet(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && NOT_UP_YET.has(code);
}

export interface ReadyOptions {
  /** Give up after this many milliseconds (default 120 000). */
  deadlineMs?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/** Calls the sidecar at 127.0.0.1:port, sending the shared secret in the `secret` header. */
export class SidecarClient {
  readonly #secret: string; // private field: never shows up in inspection or logs

  constructor(
    readonly port: number,
    secret: string,
    readonly host = "127.0.0.1",
  ) {
    this.#secret = secret;
  }

  call(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      // No timeout: /ready and /done block while files stream to or from storage.
      const request = http.request(
        {
          host: this.host,
          port: this.port,
          path,
          method: "GET",
          agent: false,
          headers: { secret: this.#secret, accept: "application/json" },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
        },
      );
      request.on("error", reject);
      request.end();
    });
  }

  /** GET /ready, retrying with exponential backoff while the sidecar is not up yet. */
  async ready(options: ReadyOptions = {}): Promise<void> {
    const deadline = Date.now() + (options.deadlineMs ?? 120_000);
    let delay = options.firstDelayMs ?? 50;
    const maxDelay = options.maxDelayMs ?? 2_000;
    for (;;) {
      let lastError: unknown;
      try {
        const { status, body } = await this.call("/ready");
        checked("/ready", status, body);
        return;
      } catch (error) {
        if (!notUpYet(error)) throw error;
        lastError = error;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new SidecarError("/ready", 0, `no sidecar answered on port ${this.port} in time (${String(lastError)})`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, remaining)));
      delay = Math.min(delay * 2, maxDelay);
    }
  }

  /** GET /done once: the sidecar validates all of out/ and commits it, or says what is wrong. */
  async done(): Promise<void> {
    const { status, body } = await this.call("/done");
    checked("/done", status, body);
  }
}

function checked(call: string, status: number, body: string): void {
  if (status !== 200) throw new SidecarError(call, status, errorMessage(body, status));
}

/** The `message` of the sidecar's JSON error, or the raw body when it is not JSON. */
export function errorMessage(body: string, status: number): string {
  try {
    const document: unknown = JSON.parse(body);
    if (document !== null && typeof document === "object") {
      const message = (document as { message?: unknown }).message;
      if (typeof message === "string") return message;
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim() || `HTTP ${status}`;
}
