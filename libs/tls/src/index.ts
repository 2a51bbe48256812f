export { ensureDevCertificates, type DevCertificatePaths } from './dev-certificates';
export { CertificateStore, type ServedCredentials, type WatchOptions } from './certificate-store';
