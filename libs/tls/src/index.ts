export { ensureDevCertificates, type DevCertificatePaths } from './dev-certificates';
export { CertificateStore, type WatchOptions } from './certificate-store';
export {
  channelBindingHashOf,
  tlsServerEndPointOf,
  type ChannelBindingHash,
} from './channel-binding';
