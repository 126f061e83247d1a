# The edge: Traefik v3 from its Helm chart (namespace `traefik`), and the
# platform's IngressRoutes and Middlewares generated from deploy/edge/edge.toml,
# the same file the local stack and the VM test are configured from.
#
#   [[routers]]         -> one IngressRoute each (rule, priority, middlewares, upstream)
#   router's upstream   -> the route's Service and port; a `grpc` service in
#                          services.toml gets `scheme: h2c`, a `rest` one none
#                          (a router to a `web` service is left out by
#                          ./default.nix: the web service is deployed by Nix
#                          in part 2, issue 21)
#   [middlewares.<n>]   -> Middleware <n>, its table as the spec ({auth} and the
#                          like become the in-cluster URL of that service)
#
# caller has no router in edge.toml, so it has no route here either.
{
  lib,
  config,
  platformSource,
  ...
}:
let
  common = import ./common.nix { inherit lib; };
  cfg = config.platform;
  inherit (platformSource) edge declared upstreams;
  entrypoint = edge.entrypoint.name;

  # "{auth}" -> http://auth.<namespace>.svc.cluster.local:8090, in every string.
  placeholders = lib.mapAttrs' (
    name: s: lib.nameValuePair "{${name}}" (common.serviceUrl cfg.namespace s)
  ) declared;
  substitute =
    value:
    if lib.isString value then
      lib.replaceStrings (lib.attrNames placeholders) (lib.attrValues placeholders) value
    else if lib.isAttrs value then
      lib.mapAttrs (_: substitute) value
    else if lib.isList value then
      map substitute value
    else
      value;

  meta = name: {
    inherit name;
    inherit (cfg) namespace;
    labels = common.labelsFor "edge";
  };

  upstreamOf =
    router:
    let
      name = router.upstream;
      # nix/lib.nix's edgeUpstreams throws for a router naming no service.
      inherit (upstreams.${name}) scheme;
    in
    {
      inherit name;
      inherit (declared.${name}) port;
    }
    // lib.optionalAttrs (scheme != "http") { inherit scheme; };

  ingressRoute = router: {
    apiVersion = "traefik.io/v1alpha1";
    kind = "IngressRoute";
    metadata = meta router.name;
    spec = {
      entryPoints = [ entrypoint ];
      routes = [
        (
          {
            kind = "Rule";
            match = router.rule;
            services = [ (upstreamOf router) ];
            middlewares = map (name: { inherit name; }) (router.middlewares or [ ]);
          }
          // lib.optionalAttrs (router ? priority) { inherit (router) priority; }
        )
      ];
    };
  };

  middleware = name: spec: {
    apiVersion = "traefik.io/v1alpha1";
    kind = "Middleware";
    metadata = meta name;
    spec = substitute spec;
  };

  routedServices = lib.unique (map (r: r.upstream) edge.routers);
in
{
  applications.edge = {
    inherit (cfg) namespace;
    # The CRDs come with the traefik application; retry until they exist.
    syncPolicy.retry = {
      limit = 10;
      backoff = {
        duration = "10s";
        factor = 2;
        maxDuration = "3m";
      };
    };
    objects = map ingressRoute edge.routers ++ lib.mapAttrsToList middleware (edge.middlewares or { });
  };

  applications.traefik = {
    namespace = cfg.edgeNamespace;
    createNamespace = true;
    # Traefik's CRDs are too large for client-side apply's annotation.
    syncPolicy.syncOptions.serverSideApply = true;
    resources = {
      namespaces.${cfg.edgeNamespace}.metadata.labels = {
        "pod-security.kubernetes.io/enforce" = "restricted";
        "pod-security.kubernetes.io/warn" = "restricted";
      };
      networkPolicies = {
        default-deny.spec = {
          podSelector = { };
          policyTypes = [ "Ingress" ];
        };
        # The entry point from anywhere; metrics from Prometheus.
        traefik.spec = {
          podSelector.matchLabels = common.traefikPods;
          policyTypes = [ "Ingress" ];
          ingress = [
            { ports = [ (common.tcp 8000) ]; }
            {
              from = [ (common.podsIn cfg.monitoringNamespace common.prometheusPods) ];
              ports = [ (common.tcp 9100) ];
            }
          ];
        };
      };
    };
  };

  platform.helm.releases.traefik = {
    app = "traefik";
    chart = (import ./charts.nix).traefik;
    values = {
      deployment = {
        replicas = cfg.edge.replicas;
        podAnnotations = {
          "prometheus.io/scrape" = "true";
          "prometheus.io/port" = "9100";
          "prometheus.io/path" = "/metrics";
        };
      };
      podDisruptionBudget = lib.mkIf (cfg.edge.replicas > 1) {
        enabled = true;
        maxUnavailable = 1;
      };
      # Only the platform's IngressRoutes, only from its namespace.
      ingressClass.enabled = false;
      providers = {
        kubernetesIngress.enabled = false;
        kubernetesCRD = {
          enabled = true;
          allowCrossNamespace = false;
          namespaces = [ cfg.namespace ];
        };
      };
      ports = {
        ${entrypoint} = {
          port = 8000;
          exposedPort = 80;
          expose.default = true;
        }
        // lib.optionalAttrs (cfg.edge.serviceType == "NodePort" && cfg.edge.nodePort != null) {
          inherit (cfg.edge) nodePort;
        };
        websecure.expose.default = false;
        metrics.port = 9100;
      };
      service.type = cfg.edge.serviceType;
      metrics.prometheus.entryPoint = "metrics";
      logs.access.enabled = true;
      resources = {
        requests = {
          cpu = "50m";
          memory = "64Mi";
        };
        limits = {
          cpu = "1";
          memory = "256Mi";
        };
      };
      podSecurityContext = common.podSecurity 65532;
      securityContext = common.restrictedContainer;
    };
  };

  # Every router's upstream must be a service this environment deploys.
  nixidy.assertions = map (name: {
    assertion = cfg.services ? ${name} && cfg.services.${name}.enable;
    message = "deploy/edge/edge.toml routes to ${name}, which this environment does not deploy";
  }) routedServices;
}
