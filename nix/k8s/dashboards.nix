# A Grafana dashboard per service, from the metrics every service exports
# (crates/platform): rpc_requests_total and rpc_request_duration_seconds by
# method, protocol and status, and for services that call others through
# circuit breakers upstream_breaker_state by upstream, and the event
# backbone's (crates/events): the outbox's backlog and age, each consumer's
# backlog, dead letters. Prometheus adds the
# `service` label (the pod's app.kubernetes.io/name) when it scrapes; see
# ./observability.nix.
{ lib }:
let
  datasource = {
    type = "prometheus";
    uid = "prometheus";
  };

  # Success is gRPC `ok` or an HTTP 1xx-3xx status; everything else counts
  # as an error in the error panel.
  notOk = ''status!~"ok|[123].."'';

  target = refId: expr: legendFormat: {
    inherit
      refId
      expr
      legendFormat
      datasource
      ;
  };

  panel =
    id: title: gridPos: extra:
    {
      inherit id title gridPos;
      type = "timeseries";
      inherit datasource;
    }
    // extra;
in
{
  # The dashboard of service `s` (an entry of nix/k8s's services).
  forService =
    s:
    let
      sel = ''service="${s.name}"'';
      rate = filter: "rate(rpc_requests_total{${filter}}[$__rate_interval])";
      buckets = "rate(rpc_request_duration_seconds_bucket{${sel}}[$__rate_interval])";
      quantile = q: name: target name "histogram_quantile(${q}, sum by (le) (${buckets}))" name;
      at = x: y: w: h: {
        inherit
          x
          y
          w
          h
          ;
      };

      panels = [
        (panel 1 "Requests per second by method" (at 0 0 12 8) {
          targets = [ (target "A" "sum by (method) (${rate sel})" "{{method}}") ];
        })
        (panel 2 "Errors per second by status" (at 12 0 12 8) {
          targets = [ (target "A" "sum by (status) (${rate "${sel},${notOk}"})" "{{status}}") ];
        })
        (panel 3 "Latency percentiles" (at 0 8 12 8) {
          fieldConfig = {
            defaults.unit = "s";
            overrides = [ ];
          };
          targets = [
            (quantile "0.5" "p50")
            (quantile "0.95" "p95")
            (quantile "0.99" "p99")
          ];
        })
        (panel 4 "Error ratio" (at 12 8 12 8) {
          fieldConfig = {
            defaults = {
              unit = "percentunit";
              min = 0;
            };
            overrides = [ ];
          };
          targets = [ (target "A" "sum(${rate "${sel},${notOk}"}) / sum(${rate sel})" "errors") ];
        })
        (panel 5 "Pods up" (at 0 16 6 6) {
          type = "stat";
          targets = [ (target "A" "sum(up{${sel}})" "up") ];
        })
      ]
      ++ [
        # Empty for a service that neither publishes nor consumes events.
        (panel 7 "Outbox: pending events and the oldest one's age" (at 0 22 12 8) {
          fieldConfig = {
            defaults = { };
            overrides = [
              {
                matcher = {
                  id = "byName";
                  options = "oldest (s)";
                };
                properties = [
                  {
                    id = "custom.axisPlacement";
                    value = "right";
                  }
                  {
                    id = "unit";
                    value = "s";
                  }
                ];
              }
            ];
          };
          targets = [
            (target "A" "sum(outbox_pending{${sel}})" "pending")
            (target "B" "max(outbox_oldest_pending_seconds{${sel}})" "oldest (s)")
          ];
        })
        (panel 8 "Consumers: events waiting in the stream, dead letters per minute" (at 12 22 12 8) {
          targets = [
            (target "A" "max by (consumer) (events_consumer_pending{${sel}})" "{{consumer}} waiting")
            (target "B" "sum by (consumer) (rate(events_dead_lettered_total{${sel}}[$__rate_interval])) * 60"
              "{{consumer}} dead letters/min"
            )
          ];
        })
      ]
      ++ lib.optional (s.callsThroughBreakers or (s.peers != [ ])) (
        panel 6 "Circuit breaker state by upstream (0 closed, 1 half-open, 2 open)" (at 6 16 18 6) {
          type = "state-timeline";
          fieldConfig = {
            defaults.mappings = [
              {
                type = "value";
                options = {
                  "0" = {
                    text = "closed";
                    color = "green";
                  };
                  "1" = {
                    text = "half-open";
                    color = "yellow";
                  };
                  "2" = {
                    text = "open";
                    color = "red";
                  };
                };
              }
            ];
            overrides = [ ];
          };
          targets = [ (target "A" "max by (upstream) (upstream_breaker_state{${sel}})" "{{upstream}}") ];
        }
      );
    in
    {
      uid = "platform-${s.name}";
      title = "platform / ${s.name}";
      description = s.description;
      tags = [
        "platform"
        s.kind
      ];
      timezone = "browser";
      refresh = "30s";
      schemaVersion = 39;
      time = {
        from = "now-1h";
        to = "now";
      };
      inherit panels;
    };
}
