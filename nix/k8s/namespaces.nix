# The platform's namespace: Pod Security "restricted" enforced, and every
# pod's ingress denied unless a NetworkPolicy of its own admits it.
{ config, ... }:
let
  cfg = config.platform;
in
{
  applications.platform = {
    inherit (cfg) namespace;
    createNamespace = true;
    resources = {
      namespaces.${cfg.namespace}.metadata.labels = {
        "pod-security.kubernetes.io/enforce" = "restricted";
        "pod-security.kubernetes.io/warn" = "restricted";
      };
      networkPolicies.default-deny.spec = {
        podSelector = { };
        policyTypes = [ "Ingress" ];
      };
    };
  };
}
