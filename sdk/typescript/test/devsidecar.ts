// Starts a real `ion sidecar --development` for the tests and reads the environment it prints.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const DEADLINE_MS = 60_000;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

/** ION_BIN, else `ion` on PATH, else the repository's .venv/bin/ion. */
export function ionCommand(): string[] {
  const configured = process.env.ION_BIN;
  if (configured) return configured.split(/\s+/).filter(Boolean);
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "ion");
    if (dir && fs.existsSync(candidate)) return [candidate];
  }
  const venvIon = path.join(REPO, ".venv", "bin", "ion");
  if (fs.existsSync(venvIon)) return [venvIon];
  throw new Error("cannot find the ion command: set ION_BIN, put ion on PATH or run `make install`");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const tempDirs: string[] = [];

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ion-module-ts-"));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export interface SidecarOptions {
  port?: number;
  baseDir?: string;
  secret?: string;
  publishes?: string;
  data?: Record<string, string>;
  files?: Record<string, string>; // name -> path
  keepRunning?: boolean;
}

export interface TraceEvent {
  id: string;
  type: string;
  parent_event_id: string | null;
  data: Record<string, string>;
  files: string[];
  jobs: Array<{ events: TraceEvent[] }>;
}

export class DevSidecar {
  readonly home: string;
  readonly env: Record<string, string> = {};
  readonly process: ChildProcess;
  #stderr = "";
  #exit: Promise<number>;
  #ready: Promise<Record<string, string>>;

  constructor(options: SidecarOptions = {}) {
    this.home = path.join(tempDir(), "home");
    const [command, ...prefix] = ionCommand();
    const args = [...prefix, "sidecar", "--development", "--port", String(options.port ?? 0)];
    if (options.baseDir) args.push("--base-dir", options.baseDir);
    if (options.publishes) args.push("--publishes", options.publishes);
    for (const [k, v] of Object.entries(options.data ?? {})) args.push("--data", `${k}=${v}`);
    for (const [name, file] of Object.entries(options.files ?? {})) args.push("--file", `${name}=${file}`);
    if (options.keepRunning) args.push("--keep-running");
    const env: NodeJS.ProcessEnv = { ...process.env, ION_HOME: this.home };
    delete env.SHARED_SECRET;
    if (options.secret) env.SHARED_SECRET = options.secret; // kept off the command line
    this.process = spawn(command as string, args, { env, cwd: path.dirname(this.home), stdio: ["ignore", "pipe", "pipe"] });
    this.process.stderr?.on("data", (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#exit = new Promise((resolve) => this.process.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1))));
    this.#ready = new Promise((resolve, reject) => {
      const lines = createInterface({ input: this.process.stdout! });
      const timer = setTimeout(() => reject(new Error(`sidecar did not become ready; stderr:\n${this.#stderr}`)), DEADLINE_MS);
      lines.on("line", (line) => {
        if (line.trim() === "ready") {
          clearTimeout(timer);
          resolve(this.env);
        } else if (line.startsWith("export ")) {
          const rest = line.slice("export ".length);
          const at = rest.indexOf("=");
          this.env[rest.slice(0, at)] = unquote(rest.slice(at + 1));
        }
      });
      lines.on("close", () => {
        clearTimeout(timer);
        reject(new Error(`sidecar exited before ready; stderr:\n${this.#stderr}`));
      });
    });
    this.#ready.catch(() => undefined); // observed by waitReady
  }

  waitReady(): Promise<Record<string, string>> {
    return this.#ready;
  }

  async waitExit(): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_, reject) => {
      timer = setTimeout(() => reject(new Error("sidecar did not exit after /done")), DEADLINE_MS);
    });
    try {
      return await Promise.race([this.#exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGTERM");
      await this.waitExit().catch(() => this.process.kill("SIGKILL"));
    }
  }

  /** The events the sidecar committed for the input event, read back with `ion trace --json`. */
  committedChildren(): TraceEvent[] {
    const [command, ...prefix] = ionCommand();
    const output = execFileSync(command as string, [...prefix, "trace", this.env.ION_CORRELATION_ID as string, "--json"], {
      env: { ...process.env, ION_HOME: this.home },
      cwd: path.dirname(this.home),
      encoding: "utf8",
      timeout: DEADLINE_MS,
    });
    const trace = JSON.parse(output) as { events: TraceEvent[] };
    const children: TraceEvent[] = [];
    const walk = (events: TraceEvent[]): void => {
      for (const event of events) {
        if (event.parent_event_id === this.env.ION_EVENT_ID) children.push(event);
        for (const job of event.jobs ?? []) walk(job.events ?? []);
      }
    };
    walk(trace.events);
    return children;
  }
}

/** Undoes POSIX single quoting, which the sidecar uses only when a value needs it. */
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
    return value.slice(1, -1).split(`'"'"'`).join("'");
  }
  return value;
}

/** Calls the sidecar directly, as a module in any language would; resolves to the status code. */
export function get(env: Record<string, string>, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: "127.0.0.1", port: Number(env.SIDECAR_PORT), path: urlPath, agent: false, headers: { secret: env.SHARED_SECRET } },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("error", reject);
  });
}
