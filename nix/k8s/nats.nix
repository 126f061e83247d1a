# The event broker: NATS with JetStream in its own namespace, from the
# official Helm chart (nats-io/k8s, ./charts.nix). One server in dev; in
# prod a cluster (platform.nats.replicas = 3). Every server keeps its
# JetStream file store on a PersistentVolumeClaim of its own.
#
# The services that use events (nix/lib.nix `usesEvents`: their crate
# depends on crates/events) get NATS_URL = platform.nats.url from
# ./service.nix. The NetworkPolicy admits to the client port only their
# pods, to the cluster port only the other NATS servers, and to the metrics
# exporter only Prometheus.
{
  lib,
  config,
  platformSource,
  ...
}:
let
  common = import ./common.nix { inherit lib; };
  cfg = config.platform;
  ns = cfg.nats.namespace;
  inherit (common) natsPods natsPorts;

  clustered = cfg.nats.replicas > 1;
  # Prometheus scrapes the servers when it runs (./observability.nix).
  exporter = cfg.observability.enable;
  # The image (nats:<version>-alpine) names no user, so it would run as
  # root; any unprivileged one will do, the store being the volume
  # (group-writable through fsGroup).
  uid = 1000;

  clients = lib.attrNames (
    lib.filterAttrs (name: s: s.usesEvents && cfg.services.${name}.enable) platformSource.services
  );
in
{
  config = lib.mkIf cfg.nats.enable {
    applications.nats = {
      namespace = ns;
      createNamespace = true;
      resources = {
        namespaces.${ns}.metadata.labels = {
          "pod-security.kubernetes.io/enforce" = "restricted";
          "pod-security.kubernetes.io/warn" = "restricted";
        };
        networkPolicies = {
          default-deny.spec = {
            podSelector = { };
            policyTypes = [ "Ingress" ];
          };
          nats.spec = {
            podSelector.matchLabels = natsPods;
            policyTypes = [ "Ingress" ];
            # An empty `from` would admit everyone: no rule without clients.
            ingress =
              lib.optional (clients != [ ]) {
                from = map (name: common.podsIn cfg.namespace (common.selectorFor name)) clients;
                ports = [ (common.tcp natsPorts.client) ];
              }
              ++ lib.optional clustered {
                from = [ { podSelector.matchLabels = natsPods; } ];
                ports = [ (common.tcp natsPorts.cluster) ];
              }
              ++ lib.optional exporter {
                from = [ (common.podsIn cfg.monitoringNamespace common.prometheusPods) ];
                ports = [ (common.tcp natsPorts.metrics) ];
              };
          };
        };
      };
    };

    platform.helm.releases.nats = {
      app = "nats";
      chart = (import ./charts.nix).nats;
      values = {
        config = {
          nats.port = natsPorts.client;
          # Routes to every server of the StatefulSet; the chart wants at
          # least 2 for JetStream, so one server runs unclustered.
          cluster = {
            enabled = clustered;
            inherit (cfg.nats) replicas;
            port = natsPorts.cluster;
          };
          # The probes' /healthz, and what the exporter reads.
          monitor.port = natsPorts.monitor;
          jetstream = {
            enabled = true;
            fileStore.pvc.size = cfg.nats.storage;
          };
        };
        container = {
          inherit (cfg.nats) resources;
          merge.securityContext = common.restrictedContainer;
        };
        # The config reloader sidecar has no probes; a changed config rolls
        # the pods instead (one at a time: the StatefulSet's default).
        reloader.enabled = false;
        podTemplate = {
          configChecksumAnnotation = true;
          merge = {
            spec.securityContext = common.podSecurity uid;
          }
          // lib.optionalAttrs exporter {
            metadata.annotations = {
              "prometheus.io/scrape" = "true";
              "prometheus.io/port" = toString natsPorts.metrics;
              "prometheus.io/path" = "/metrics";
            };
          };
          topologySpreadConstraints = lib.mkIf cfg.spreadAcrossNodes {
            "kubernetes.io/hostname" = {
              maxSkew = 1;
              whenUnsatisfiable = "ScheduleAnyway";
            };
          };
        };
        promExporter = {
          enabled = exporter;
        }
        // lib.optionalAttrs exporter {
          port = natsPorts.metrics;
          merge =
            let
              probe = {
                tcpSocket.port = "prom-metrics";
                periodSeconds = 10;
              };
            in
            {
              resources = {
                requests = {
                  cpu = "10m";
                  memory = "16Mi";
                };
                limits = {
                  cpu = "100m";
                  memory = "64Mi";
                };
              };
              securityContext = common.restrictedContainer;
              livenessProbe = probe;
              readinessProbe = probe;
            };
        };
        # nats-box, a standing Deployment with the nats CLI (no probes, no
        # NetworkPolicy peer): run it when needed instead.
        natsBox.enabled = false;
      };
    };
  };
}
