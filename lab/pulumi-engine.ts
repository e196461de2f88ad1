/**
 * The Pulumi engine's side of the provider protocol, a lab tool for test/e2e/provider.test.ts and
 * bench/provider-create.ts: start
 * bin/pulumi-resource-kdrift as the engine does (its gRPC address as the only argument, the port read from the
 * plugin's stdout), then drive pulumirpc.ResourceProvider with the messages shipped in @pulumi/pulumi, filled the way
 * the engine fills them (sdk/go/common/resource/plugin/provider_plugin.go: Handshake, then Configure with
 * `kdrift:config:*` variables, typed args and acceptSecrets/acceptResources/sendsOldInputs*; secrets and unknowns in
 * Pulumi's wire encoding). No Pulumi CLI is involved or faked: the plugin's answers are what the engine would get.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import providerRpc from '@pulumi/pulumi/proto/provider_grpc_pb.js';
import providerPb from '@pulumi/pulumi/proto/provider_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import structPb from 'google-protobuf/google/protobuf/struct_pb.js';
import { repoRoot } from '../core/package-root.js';
import { KdriftError } from '../core/errors.js';

export const TYPE = 'kdrift:index:HostKernelState';
export const SIG_KEY = '4dabf18193072939515e22adb298388d';
export const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
export const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';

export type Props = Record<string, unknown>;

export function secretValue(value: unknown): Props {
  return { [SIG_KEY]: SECRET_SIG, value };
}

export function urn(name: string, type = TYPE): string {
  return `urn:pulumi:lab::kdrift::${type}::${name}`;
}

const struct = (p: Props) => structPb.Struct.fromJavaScript(JSON.parse(JSON.stringify(p)));
const js = (s: structPb.Struct | undefined): Props => (s?.toJavaScript() ?? {}) as Props;

/** A gRPC error as the engine sees it: the message the user would read under the resource. */
export class ProviderCallError extends KdriftError {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface DiffAnswer {
  changes: 'none' | 'some' | 'unknown';
  replaces: string[];
  diffs: string[];
  detailedDiff: Record<string, { kind: string; inputDiff: boolean }>;
}

const KIND_NAME = Object.fromEntries(Object.entries(providerPb.PropertyDiff.Kind).map(([k, v]) => [v, k]));

export class EnginePlugin {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    private readonly client: providerRpc.ResourceProviderClient,
    readonly stderr: () => string,
  ) {}

  /** Starts the plugin the way the engine does and waits for the port it prints. */
  static async start(engineAddress = '127.0.0.1:1'): Promise<EnginePlugin> {
    const root = repoRoot();
    const bin = path.join(root, 'bin', 'pulumi-resource-kdrift');
    const child = spawn(bin, [engineAddress], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`plugin printed no port within 20 s; stderr: ${err}`)), 20_000);
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString('utf8');
        const m = /^(\d+)\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.on('exit', (code) => reject(new Error(`plugin exited (${code}) before printing its port; stderr: ${err}`)));
    });
    const client = new providerRpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new EnginePlugin(child, port, client, () => err);
  }

  async stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode === null) {
      const gone = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await gone;
    }
  }

  private call<Req, Res>(method: string, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = (this.client as unknown as Record<string, (r: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[method] as (r: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void;
      fn.call(this.client, req, (e, r) => (e ? reject(new ProviderCallError(e.code, e.details)) : resolve(r)));
    });
  }

  handshake(): Promise<providerPb.ProviderHandshakeResponse> {
    const req = new providerPb.ProviderHandshakeRequest().setEngineAddress('127.0.0.1:1').setRootDirectory(repoRoot()).setProgramDirectory(repoRoot()).setConfigureWithUrn(true).setSupportsViews(true);
    return this.call('handshake', req);
  }

  async getSchema(): Promise<Props> {
    const res = await this.call<providerPb.GetSchemaRequest, providerPb.GetSchemaResponse>('getSchema', new providerPb.GetSchemaRequest().setVersion(0));
    return JSON.parse(res.getSchema()) as Props;
  }

  async checkConfig(news: Props): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }> {
    const req = new providerPb.CheckRequest().setUrn(urn('default', 'pulumi:providers:kdrift')).setName('default').setType('pulumi:providers:kdrift').setOlds(struct({})).setNews(struct(news));
    const res = await this.call<providerPb.CheckRequest, providerPb.CheckResponse>('checkConfig', req);
    return { inputs: js(res.getInputs()), failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })) };
  }

  /** As the engine: non-string values JSON-encoded into `kdrift:config:<key>` variables, and the typed args. */
  async configure(settings: Props): Promise<providerPb.ConfigureResponse> {
    const req = new providerPb.ConfigureRequest()
      .setAcceptsecrets(true)
      .setAcceptresources(true)
      .setSendsOldInputs(true)
      .setSendsOldInputsToDelete(true)
      .setUrn(urn('default', 'pulumi:providers:kdrift'))
      .setName('default')
      .setType('pulumi:providers:kdrift')
      .setArgs(struct(settings));
    const vars = req.getVariablesMap();
    for (const [k, v] of Object.entries(settings)) vars.set(`kdrift:config:${k}`, typeof v === 'string' ? v : JSON.stringify(v));
    return this.call('configure', req);
  }

  async check(name: string, news: Props, olds: Props = {}): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }> {
    const req = new providerPb.CheckRequest().setUrn(urn(name)).setName(name).setType(TYPE).setOlds(struct(olds)).setNews(struct(news));
    const res = await this.call<providerPb.CheckRequest, providerPb.CheckResponse>('check', req);
    return { inputs: js(res.getInputs()), failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })) };
  }

  async diff(name: string, id: string, oldOutputs: Props, news: Props, oldInputs: Props): Promise<DiffAnswer> {
    const req = new providerPb.DiffRequest().setId(id).setUrn(urn(name)).setName(name).setType(TYPE).setOlds(struct(oldOutputs)).setNews(struct(news)).setOldInputs(struct(oldInputs));
    const res = await this.call<providerPb.DiffRequest, providerPb.DiffResponse>('diff', req);
    const C = providerPb.DiffResponse.DiffChanges;
    const detailedDiff: DiffAnswer['detailedDiff'] = {};
    res.getDetaileddiffMap().forEach((d, k) => {
      detailedDiff[k] = { kind: KIND_NAME[d.getKind()] as string, inputDiff: d.getInputdiff() };
    });
    return {
      changes: res.getChanges() === C.DIFF_SOME ? 'some' : res.getChanges() === C.DIFF_NONE ? 'none' : 'unknown',
      replaces: res.getReplacesList(),
      diffs: res.getDiffsList(),
      detailedDiff,
    };
  }

  async create(name: string, properties: Props, preview = false): Promise<{ id: string; outs: Props }> {
    const req = new providerPb.CreateRequest().setUrn(urn(name)).setName(name).setType(TYPE).setProperties(struct(properties)).setPreview(preview).setTimeout(600);
    const res = await this.call<providerPb.CreateRequest, providerPb.CreateResponse>('create', req);
    return { id: res.getId(), outs: js(res.getProperties()) };
  }

  async read(name: string, id: string, state: Props, inputs: Props): Promise<{ id: string; outs: Props; inputs: Props }> {
    const req = new providerPb.ReadRequest().setId(id).setUrn(urn(name)).setName(name).setType(TYPE).setProperties(struct(state)).setInputs(struct(inputs));
    const res = await this.call<providerPb.ReadRequest, providerPb.ReadResponse>('read', req);
    return { id: res.getId(), outs: js(res.getProperties()), inputs: js(res.getInputs()) };
  }

  async update(name: string, id: string, oldOutputs: Props, news: Props, oldInputs: Props, preview = false): Promise<Props> {
    const req = new providerPb.UpdateRequest().setId(id).setUrn(urn(name)).setName(name).setType(TYPE).setOlds(struct(oldOutputs)).setNews(struct(news)).setOldInputs(struct(oldInputs)).setPreview(preview).setTimeout(600);
    const res = await this.call<providerPb.UpdateRequest, providerPb.UpdateResponse>('update', req);
    return js(res.getProperties());
  }

  async delete(name: string, id: string, outputs: Props, oldInputs: Props): Promise<void> {
    const req = new providerPb.DeleteRequest().setId(id).setUrn(urn(name)).setName(name).setType(TYPE).setProperties(struct(outputs)).setOldInputs(struct(oldInputs)).setTimeout(600);
    await this.call<providerPb.DeleteRequest, emptyPb.Empty>('delete', req);
  }
}
