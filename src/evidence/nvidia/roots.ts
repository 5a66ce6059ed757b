/**
 * The default trust anchor of NVIDIA GPU attestation: the NVIDIA Device Identity CA, the
 * self-signed P-384 root that every GPU's device identity chain ends at (GH100 GSP FMC
 * leaf ← GSP BROM ← GH100 Provisioner ICA ← GH100 Identity ← this root).
 *
 * Provenance: NVIDIA/nvtrust, `guest_tools/gpu_verifiers/local_gpu_verifier/src/verifier/
 * certs/verifier_device_root.pem` (commit 77e4b8660b011e2955923d71f02504c6a0b4f990); the
 * same certificate ends the chain of every Hopper sample there and in
 * confidential-containers/trustee (`deps/verifier/src/nvidia/nvidia_device_root.pem`).
 * Valid 2021-11-05 to 9999-12-31. `VerifyContext.trustAnchors` replaces it.
 */

/** SHA-256 of the DER certificate below, for anyone comparing it with NVIDIA's publication. */
export const NVIDIA_DEVICE_IDENTITY_CA_SHA256 = '102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48';

export const NVIDIA_DEVICE_IDENTITY_CA_PEM = `-----BEGIN CERTIFICATE-----
MIICCzCCAZCgAwIBAgIQLTZwscoQBBHB/sDoKgZbVDAKBggqhkjOPQQDAzA1MSIw
IAYDVQQDDBlOVklESUEgRGV2aWNlIElkZW50aXR5IENBMQ8wDQYDVQQKDAZOVklE
SUEwIBcNMjExMTA1MDAwMDAwWhgPOTk5OTEyMzEyMzU5NTlaMDUxIjAgBgNVBAMM
GU5WSURJQSBEZXZpY2UgSWRlbnRpdHkgQ0ExDzANBgNVBAoMBk5WSURJQTB2MBAG
ByqGSM49AgEGBSuBBAAiA2IABA5MFKM7+KViZljbQSlgfky/RRnEQScW9NDZF8SX
gAW96r6u/Ve8ZggtcYpPi2BS4VFu6KfEIrhN6FcHG7WP05W+oM+hxj7nyA1r1jkB
2Ry70YfThX3Ba1zOryOP+MJ9vaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFFeF/4PyY8xlfWi3Olv0jUrL+0lfMB8GA1UdIwQY
MBaAFFeF/4PyY8xlfWi3Olv0jUrL+0lfMAoGCCqGSM49BAMDA2kAMGYCMQCPeFM3
TASsKQVaT+8S0sO9u97PVGCpE9d/I42IT7k3UUOLSR/qvJynVOD1vQKVXf0CMQC+
EY55WYoDBvs2wPAH1Gw4LbcwUN8QCff8bFmV4ZxjCRr4WXTLFHBKjbfneGSBWwA=
-----END CERTIFICATE-----
`;