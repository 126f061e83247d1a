# Small pieces every module uses: labels, the restricted security context,
# NetworkPolicy peers, service URLs.
{ lib }:
rec {
  # The fixed non-root user of the platform's images (nix/lib.nix `uid`).
  inherit (import ../lib.nix { inherit lib; }) uid;

  selectorFor = name: { "app.kubernetes.io/name" = name; };
  labelsFor =
    name:
    selectorFor name
    // {
      "app.kubernetes.io/part-of" = "platform";
    };

  # What Pod Security Admission's "restricted" profile asks of a container,
  # plus a read-only root filesystem.
  restrictedContainer = {
    allowPrivilegeEscalation = false;
    readOnlyRootFilesystem = true;
    runAsNonRoot = true;
    capabilities.drop = [ "ALL" ];
    seccompProfile.type = "RuntimeDefault";
  };

  podSecurity = user: {
    runAsNonRoot = true;
    runAsUser = user;
    runAsGroup = user;
    fsGroup = user;
    seccompProfile.type = "RuntimeDefault";
  };

  # Pod labels the Helm charts give (their selector labels; release names as
  # in ./edge.nix and ./observability.nix).
  traefikPods = selectorFor "traefik";
  prometheusPods = selectorFor "prometheus" // {
    "app.kubernetes.io/component" = "server";
  };

  # NATS (./nats.nix), named `nats` in its chart and release: the server pods'
  # selector labels, and the ports, written here once and handed to the chart.
  natsPods = selectorFor "nats" // {
    "app.kubernetes.io/component" = "nats";
  };
  natsPorts = {
    client = 4222;
    cluster = 6222;
    monitor = 8222;
    # prometheus-nats-exporter, the pods' sidecar that turns monitor's JSON into metrics
    metrics = 7777;
  };

  # A NetworkPolicy peer: pods labelled `podLabels` in namespace `namespace`.
  podsIn = namespace: podLabels: {
    namespaceSelector.matchLabels."kubernetes.io/metadata.name" = namespace;
    podSelector.matchLabels = podLabels;
  };

  tcp = port: {
    protocol = "TCP";
    inherit port;
  };

  # http://<service>.<namespace>.svc.cluster.local:<port>
  serviceUrl =
    namespace: service:
    "http://${service.name}.${namespace}.svc.cluster.local:${toString service.port}";

  # Which services call `name`: those naming it as a peer, and for the token
  # issuer (auth) every token verifier too (they fetch its JWKS and get
  # their service tokens there).
  callersOf =
    services: name:
    let
      isIssuer = services.${name}.tokenIssuer or false;
    in
    lib.attrNames (
      lib.filterAttrs (
        _: s: s.name != name && (lib.elem name s.peers || (isIssuer && s.verifiesTokens))
      ) services
    );

  # The services the edge talks to: its routers' upstreams, and every
  # `{service}` placeholder in its middlewares (forward-auth calls auth).
  edgeTargets =
    edge: declared:
    let
      middlewares = builtins.toJSON (edge.middlewares or { });
      placeholders = lib.filter (n: lib.hasInfix "{${n}}" middlewares) (lib.attrNames declared);
    in
    lib.unique (map (router: router.upstream) (edge.routers or [ ]) ++ placeholders);
}
