export { ensureDevCertificates, type DevCertificatePaths } from './dev-certificates';
export { CertificateStore, type WatchOptions } from './certificate-store';
