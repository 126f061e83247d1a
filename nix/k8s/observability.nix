# Observability in the `monitoring` namespace, each part a pinned Helm chart:
# Prometheus (scrapes every service's /metrics, Traefik's and NATS's,
# evaluates ./alerts.nix),
# Grafana (datasources and a dashboard per service, ./dashboards.nix), Loki
# with Promtail shipping the pods' logs, and Tempo receiving the services'
# OTLP traces (OTEL_EXPORTER_OTLP_ENDPOINT, see ./service.nix).
{
  lib,
  config,
  platformSource,
  ...
}:
let
  common = import ./common.nix { inherit lib; };
  cfg = config.platform;
  ns = cfg.monitoringNamespace;
  charts = import ./charts.nix;
  services = lib.filterAttrs (name: _: cfg.services.${name}.enable) platformSource.services;
  dashboards = import ./dashboards.nix { inherit lib; };
  alerts = import ./alerts.nix { inherit lib; };

  inCluster =
    name: port:
    "http://${name}.${ns}.svc.cluster.local${lib.optionalString (port != null) ":${toString port}"}";
  prometheusUrl = inCluster "prometheus-server" null;
  lokiUrl = inCluster "loki" 3100;
  tempoUrl = inCluster "tempo" 3100;

  resources = cpu: memory: {
    requests = {
      cpu = "50m";
      memory = "64Mi";
    };
    limits = { inherit cpu memory; };
  };

  nodePort =
    port:
    if cfg.observability.nodePorts then
      {
        type = "NodePort";
        nodePort = port;
      }
    else
      { type = "ClusterIP"; };

  # Pods of the pod in namespace `ns` whose chart names them `name`.
  pods = name: common.selectorFor name;
  podsHere = name: { podSelector.matchLabels = pods name; };

  # Scrapes the pods in `namespace` that carry prometheus.io/* annotations,
  # at the port and path they name; `service` is their app.kubernetes.io/name.
  podJob = job: namespace: {
    job_name = job;
    kubernetes_sd_configs = [
      {
        role = "pod";
        namespaces.names = [ namespace ];
      }
    ];
    relabel_configs = [
      {
        source_labels = [ "__meta_kubernetes_pod_annotation_prometheus_io_scrape" ];
        regex = "true";
        action = "keep";
      }
      {
        source_labels = [
          "__address__"
          "__meta_kubernetes_pod_annotation_prometheus_io_port"
        ];
        regex = "([^:]+)(?::\\d+)?;(\\d+)";
        replacement = "$1:$2";
        target_label = "__address__";
      }
      {
        source_labels = [ "__meta_kubernetes_pod_annotation_prometheus_io_path" ];
        regex = "(.+)";
        target_label = "__metrics_path__";
      }
      {
        source_labels = [ "__meta_kubernetes_pod_label_app_kubernetes_io_name" ];
        target_label = "service";
      }
      {
        source_labels = [ "__meta_kubernetes_namespace" ];
        target_label = "namespace";
      }
      {
        source_labels = [ "__meta_kubernetes_pod_name" ];
        target_label = "pod";
      }
    ];
  };
in
{
  config = lib.mkIf cfg.observability.enable {
    applications.monitoring = {
      namespace = ns;
      createNamespace = true;
      resources = {
        # Promtail reads the nodes' log files (hostPath, root), which only
        # the privileged profile allows; everything else here is restricted.
        namespaces.${ns}.metadata.labels = {
          "pod-security.kubernetes.io/enforce" = "privileged";
          "pod-security.kubernetes.io/warn" = "restricted";
        };
        networkPolicies = {
          default-deny.spec = {
            podSelector = { };
            policyTypes = [ "Ingress" ];
          };
          # UIs: from anywhere (NodePorts in dev); Grafana queries Prometheus.
          prometheus.spec = {
            podSelector.matchLabels = common.prometheusPods;
            policyTypes = [ "Ingress" ];
            ingress = [ { ports = [ (common.tcp 9090) ]; } ];
          };
          grafana.spec = {
            podSelector.matchLabels = pods "grafana";
            policyTypes = [ "Ingress" ];
            ingress = [ { ports = [ (common.tcp 3000) ]; } ];
          };
          # Logs in from Promtail, queries from Grafana, Loki's own ring.
          loki.spec = {
            podSelector.matchLabels = pods "loki";
            policyTypes = [ "Ingress" ];
            ingress = [
              {
                from = [
                  (podsHere "promtail")
                  (podsHere "grafana")
                ];
                ports = [ (common.tcp 3100) ];
              }
              { from = [ (podsHere "loki") ]; }
            ];
          };
          # Traces in from the platform's pods, queries from Grafana.
          tempo.spec = {
            podSelector.matchLabels = pods "tempo";
            policyTypes = [ "Ingress" ];
            ingress = [
              {
                from = [
                  { namespaceSelector.matchLabels."kubernetes.io/metadata.name" = cfg.namespace; }
                ];
                # OTLP/HTTP, which the services export over.
                ports = [ (common.tcp 4318) ];
              }
              {
                from = [ (podsHere "grafana") ];
                ports = [ (common.tcp 3100) ];
              }
              { from = [ (podsHere "tempo") ]; }
            ];
          };
        };
      };
    };

    applications.grafana = {
      namespace = ns;
      # Mounted by the chart at /var/lib/grafana/dashboards/platform.
      resources.configMaps.grafana-dashboards = {
        metadata.labels = common.labelsFor "grafana-dashboards";
        data = lib.mapAttrs' (
          name: s: lib.nameValuePair "${name}.json" (builtins.toJSON (dashboards.forService s))
        ) services;
      };
    };
    applications.prometheus.namespace = ns;
    applications.loki.namespace = ns;
    applications.promtail.namespace = ns;
    applications.tempo.namespace = ns;

    platform.helm.releases = {
      prometheus = {
        app = "prometheus";
        chart = charts.prometheus;
        values = {
          alertmanager.enabled = false;
          kube-state-metrics.enabled = false;
          prometheus-node-exporter.enabled = false;
          prometheus-pushgateway.enabled = false;
          configmapReload.prometheus = {
            resources = resources "100m" "64Mi";
            containerSecurityContext = common.restrictedContainer;
          };
          server = {
            global = {
              scrape_interval = "15s";
              evaluation_interval = "15s";
            };
            retention = "7d";
            persistentVolume.size = "4Gi";
            service = nodePort 30090 // {
              servicePort = 80;
            };
            resources = resources "1" "1Gi";
            securityContext = common.podSecurity 65534;
            containerSecurityContext = common.restrictedContainer;
          };
          # Replaces the chart's cluster-wide jobs: the platform's pods,
          # Traefik and NATS (its exporter, ./nats.nix).
          serverFiles."prometheus.yml".scrape_configs = [
            {
              job_name = "prometheus";
              static_configs = [ { targets = [ "localhost:9090" ]; } ];
            }
            (podJob "platform" cfg.namespace)
            (podJob "traefik" cfg.edgeNamespace)
          ]
          ++ lib.optional cfg.nats.enable (podJob "nats" cfg.nats.namespace);
          serverFiles."alerting_rules.yml" = alerts.forServices services;
        };
      };

      grafana = {
        app = "grafana";
        chart = charts.grafana;
        values = {
          # The admin login comes from a Secret you create (deploy/k8s/README.md).
          admin = {
            existingSecret = "grafana-admin";
            userKey = "admin-user";
            passwordKey = "admin-password";
          };
          service = nodePort 30300;
          testFramework.enabled = false;
          persistence.enabled = false;
          resources = resources "500m" "256Mi";
          "grafana.ini".analytics = {
            check_for_updates = false;
            reporting_enabled = false;
          };
          datasources."datasources.yaml" = {
            apiVersion = 1;
            datasources = [
              {
                name = "Prometheus";
                type = "prometheus";
                uid = "prometheus";
                url = prometheusUrl;
                access = "proxy";
                isDefault = true;
              }
              {
                name = "Loki";
                type = "loki";
                uid = "loki";
                url = lokiUrl;
                access = "proxy";
                # The JSON log lines carry the trace id: link them to Tempo.
                jsonData.derivedFields = [
                  {
                    name = "trace_id";
                    matcherRegex = "trace_id\\W+(\\w+)";
                    url = "$${__value.raw}";
                    datasourceUid = "tempo";
                  }
                ];
              }
              {
                name = "Tempo";
                type = "tempo";
                uid = "tempo";
                url = tempoUrl;
                access = "proxy";
                jsonData.tracesToLogsV2 = {
                  datasourceUid = "loki";
                  filterByTraceID = true;
                };
              }
            ];
          };
          dashboardProviders."dashboardproviders.yaml" = {
            apiVersion = 1;
            providers = [
              {
                name = "platform";
                orgId = 1;
                folder = "Platform";
                type = "file";
                disableDeletion = true;
                editable = false;
                options.path = "/var/lib/grafana/dashboards/platform";
              }
            ];
          };
          dashboardsConfigMaps.platform = "grafana-dashboards";
        };
      };

      loki = {
        app = "loki";
        chart = charts.loki;
        values = {
          deploymentMode = "SingleBinary";
          loki = {
            auth_enabled = false;
            commonConfig.replication_factor = 1;
            storage.type = "filesystem";
            schemaConfig.configs = [
              {
                from = "2024-04-01";
                store = "tsdb";
                object_store = "filesystem";
                schema = "v13";
                index = {
                  prefix = "loki_index_";
                  period = "24h";
                };
              }
            ];
            podSecurityContext = common.podSecurity 10001;
            containerSecurityContext = common.restrictedContainer;
          };
          singleBinary = {
            replicas = 1;
            persistence.size = "4Gi";
            resources = resources "1" "1Gi";
          };
          read.replicas = 0;
          write.replicas = 0;
          backend.replicas = 0;
          gateway.enabled = false;
          chunksCache.enabled = false;
          resultsCache.enabled = false;
          lokiCanary.enabled = false;
          test.enabled = false;
          sidecar.rules.enabled = false;
        };
      };

      promtail = {
        app = "promtail";
        chart = charts.promtail;
        values = {
          config.clients = [ { url = "${lokiUrl}/loki/api/v1/push"; } ];
          resources = resources "200m" "128Mi";
          # The one exception to running as non-root (deploy/k8s/validate.py honours it).
          podAnnotations."policy.platform/run-as-root" = "reads the nodes' log files under /var/log/pods";
          containerSecurityContext = {
            readOnlyRootFilesystem = true;
            allowPrivilegeEscalation = false;
            capabilities.drop = [ "ALL" ];
            seccompProfile.type = "RuntimeDefault";
          };
          livenessProbe = {
            httpGet = {
              path = "/ready";
              port = "http-metrics";
            };
            periodSeconds = 20;
          };
        };
      };

      tempo = {
        app = "tempo";
        chart = charts.tempo;
        values = {
          tempo = {
            reportingEnabled = false;
            retention = "72h";
            resources = resources "500m" "512Mi";
            securityContext = common.restrictedContainer;
            # OTLP/HTTP only: the services export OTLP/HTTP with protobuf.
            receivers = {
              jaeger = null;
              opencensus = null;
              otlp.protocols.http.endpoint = "0.0.0.0:4318";
            };
          };
          securityContext = common.podSecurity 10001;
        };
      };
    };
  };
}
