/** The provider's resource type token, shared by the provider and the SDK class (stacks/host-kernel-state.ts). */
export const HOST_KERNEL_STATE = 'kdrift:index:HostKernelState';
