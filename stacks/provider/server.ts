/**
 * The engine-facing side of the kdrift provider plugin: pulumirpc.ResourceProvider over gRPC, with the service
 * definition and messages shipped in @pulumi/pulumi (proto/provider_grpc_pb.js), served the way @pulumi/pulumi's own
 * provider runtime serves (provider/server.js main: bind 127.0.0.1:0, print the port on stdout).
 *
 * Why not `provider.main(provider, args)` itself: in @pulumi/pulumi 3.248 that runtime answers Configure without
 * handing the provider its variables/args (so provider settings never arrive), answers CheckConfig and DiffConfig
 * UNIMPLEMENTED, and its Diff drops detailedDiff — three things this provider needs. The wire conventions (Struct
 * round trip, secrets and unknowns, error details) are the same.
 */
import * as grpc from '@grpc/grpc-js';
import providerRpc from '@pulumi/pulumi/proto/provider_grpc_pb.js';
import providerPb from '@pulumi/pulumi/proto/provider_pb.js';
import pluginPb from '@pulumi/pulumi/proto/plugin_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import structPb from 'google-protobuf/google/protobuf/struct_pb.js';
import { errorMessage } from '../../core/errors.js';
import { HostKernelStateProvider, type DiffKind } from './host-kernel-state.js';
import { HOST_KERNEL_STATE } from './type-token.js';
import type { CheckFailure } from './inputs.js';
import { settingsInput } from './settings.js';
import type { Props } from './wire.js';
import schema from './schema.json' with { type: 'json' };

export const PROVIDER_VERSION = schema.version;

type Handler = (call: grpc.ServerUnaryCall<any, unknown>) => Promise<unknown>; // eslint-disable-line @typescript-eslint/no-explicit-any -- jspb request classes differ per method

function props(s: structPb.Struct | undefined): Props {
  return (s?.toJavaScript() ?? {}) as Props;
}

function toStruct(p: Props): structPb.Struct {
  // JSON round trip: drops undefined, which Struct.fromJavaScript rejects.
  return structPb.Struct.fromJavaScript(JSON.parse(JSON.stringify(p)));
}

function failures(list: CheckFailure[]): providerPb.CheckFailure[] {
  return list.map((f) => new providerPb.CheckFailure().setProperty(f.property).setReason(f.reason));
}

function assertType(urn: string): void {
  const type = urn.split('::')[2]?.split('$').pop();
  if (type !== HOST_KERNEL_STATE) throw new Error(`unknown resource type ${type ?? urn} (this provider has ${HOST_KERNEL_STATE})`);
}

const DIFF_KIND: Record<DiffKind, providerPb.PropertyDiff.Kind> = {
  ADD: providerPb.PropertyDiff.Kind.ADD,
  DELETE: providerPb.PropertyDiff.Kind.DELETE,
  UPDATE: providerPb.PropertyDiff.Kind.UPDATE,
};

export function providerService(provider: HostKernelStateProvider): grpc.UntypedServiceImplementation {
  const handlers: Record<string, Handler> = {
    handshake: async () =>
      new providerPb.ProviderHandshakeResponse().setAcceptSecrets(true).setAcceptResources(false).setAcceptOutputs(false).setSupportsAutonamingConfiguration(false),
    getPluginInfo: async () => new pluginPb.PluginInfo().setVersion(PROVIDER_VERSION),
    getSchema: async (call) => {
      const req = call.request as providerPb.GetSchemaRequest;
      if (req.getVersion() !== 0) throw new Error(`unsupported schema version ${req.getVersion()}`);
      return new providerPb.GetSchemaResponse().setSchema(JSON.stringify(schema));
    },
    checkConfig: async (call) => {
      const req = call.request as providerPb.CheckRequest;
      const news = props(req.getNews());
      return new providerPb.CheckResponse().setInputs(toStruct(news)).setFailuresList(failures(provider.checkConfig(news)));
    },
    diffConfig: async (call) => {
      const req = call.request as providerPb.DiffRequest;
      const before = JSON.stringify(props(req.getOlds()));
      const changed = before !== JSON.stringify(props(req.getNews()));
      // Settings change how hosts are reached, never what they hold: no replacement of the provider.
      return new providerPb.DiffResponse().setChanges(changed ? providerPb.DiffResponse.DiffChanges.DIFF_SOME : providerPb.DiffResponse.DiffChanges.DIFF_NONE);
    },
    configure: async (call) => {
      const req = call.request as providerPb.ConfigureRequest;
      const variables = new Map(req.getVariablesMap().toArray() as [string, string][]);
      provider.configure(settingsInput(variables, req.hasArgs() ? props(req.getArgs()) : undefined));
      return new providerPb.ConfigureResponse().setAcceptsecrets(true).setSupportspreview(true).setAcceptresources(false).setAcceptoutputs(false);
    },
    check: async (call) => {
      const req = call.request as providerPb.CheckRequest;
      assertType(req.getUrn());
      const res = provider.check(props(req.getNews()));
      return new providerPb.CheckResponse().setInputs(toStruct(res.inputs)).setFailuresList(failures(res.failures));
    },
    diff: async (call) => {
      const req = call.request as providerPb.DiffRequest;
      assertType(req.getUrn());
      const res = provider.diff(props(req.getOlds()), props(req.getNews()));
      const resp = new providerPb.DiffResponse()
        .setChanges(res.changes ? providerPb.DiffResponse.DiffChanges.DIFF_SOME : providerPb.DiffResponse.DiffChanges.DIFF_NONE)
        .setReplacesList(res.replaces)
        .setDiffsList(res.diffs)
        .setDeletebeforereplace(false)
        .setHasdetaileddiff(true);
      const detailed = resp.getDetaileddiffMap();
      for (const [path, d] of Object.entries(res.detailedDiff)) detailed.set(path, new providerPb.PropertyDiff().setKind(DIFF_KIND[d.kind]).setInputdiff(d.inputDiff));
      return resp;
    },
    create: async (call) => {
      const req = call.request as providerPb.CreateRequest;
      assertType(req.getUrn());
      const res = await provider.create(props(req.getProperties()), req.getPreview());
      return new providerPb.CreateResponse().setId(res.id).setProperties(toStruct(res.outs));
    },
    read: async (call) => {
      const req = call.request as providerPb.ReadRequest;
      assertType(req.getUrn());
      const res = await provider.read(req.getId(), props(req.getProperties()), req.hasInputs() ? props(req.getInputs()) : undefined);
      return new providerPb.ReadResponse().setId(res.id).setProperties(toStruct(res.props)).setInputs(toStruct(res.inputs));
    },
    update: async (call) => {
      const req = call.request as providerPb.UpdateRequest;
      assertType(req.getUrn());
      const res = await provider.update(props(req.getNews()), req.getPreview());
      return new providerPb.UpdateResponse().setProperties(toStruct(res.outs));
    },
    delete: async (call) => {
      const req = call.request as providerPb.DeleteRequest;
      assertType(req.getUrn());
      await provider.delete(props(req.getProperties()));
      return new emptyPb.Empty();
    },
    cancel: async () => new emptyPb.Empty(),
    attach: async () => new emptyPb.Empty(),
  };
  // Methods not listed (invoke, call, construct, parameterize, list, mappings) are answered UNIMPLEMENTED by grpc-js,
  // which the engine treats as "not supported".
  return Object.fromEntries(
    Object.entries(handlers).map(([name, fn]) => [
      name,
      (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        fn(call).then(
          (resp) => callback(null, resp),
          (err: unknown) => callback({ code: grpc.status.UNKNOWN, details: errorMessage(err), message: errorMessage(err) }, null),
        );
      },
    ]),
  );
}

/** Serves the provider and prints the port (the engine reads it from stdout). Resolves once listening. */
export async function serve(provider = new HostKernelStateProvider()): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 400 * 1024 * 1024 });
  server.addService(providerRpc.ResourceProviderService, providerService(provider));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  process.stdout.write(`${port}\n`);
  return { port, server };
}
