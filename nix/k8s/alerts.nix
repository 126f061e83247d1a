# Prometheus alerting rules (the chart's serverFiles."alerting_rules.yml"):
# a service down, its server-error ratio, its p99 latency, an open breaker.
{ lib }:
let
  # Failures that are the server's fault: gRPC codes and HTTP 5xx.
  serverErrors = ''status=~"5..|internal|unavailable|unknown|data_loss|deadline_exceeded"'';
in
{
  forServices = services: {
    groups = [
      {
        name = "platform";
        rules =
          # No ready target at all: every pod gone or failing its scrape.
          map (s: {
            alert = "PlatformServiceDown";
            expr = ''absent(up{job="platform",service="${s.name}"} == 1)'';
            "for" = "2m";
            labels = {
              severity = "critical";
              service = s.name;
            };
            annotations = {
              summary = "${s.name} is down";
              description = "No ${s.name} pod has answered Prometheus' scrape of /metrics for 2 minutes.";
            };
          }) (lib.attrValues services)
          ++ [
            {
              alert = "PlatformHighErrorRate";
              expr = ''
                sum by (service) (rate(rpc_requests_total{${serverErrors}}[5m]))
                  / sum by (service) (rate(rpc_requests_total[5m])) > 0.05'';
              "for" = "5m";
              labels.severity = "warning";
              annotations = {
                summary = "{{ $labels.service }} fails more than 5% of requests";
                description = "{{ $labels.service }}: {{ $value | humanizePercentage }} of requests ended in a server error over 5 minutes.";
              };
            }
            {
              alert = "PlatformHighLatency";
              expr = "histogram_quantile(0.99, sum by (service, le) (rate(rpc_request_duration_seconds_bucket[5m]))) > 1";
              "for" = "10m";
              labels.severity = "warning";
              annotations = {
                summary = "{{ $labels.service }} p99 latency above 1s";
                description = "{{ $labels.service }}: p99 latency is {{ $value | humanizeDuration }} over 5 minutes.";
              };
            }
            {
              alert = "PlatformCircuitBreakerOpen";
              expr = "max by (service, upstream) (upstream_breaker_state) == 2";
              "for" = "1m";
              labels.severity = "warning";
              annotations = {
                summary = "{{ $labels.service }}'s breaker to {{ $labels.upstream }} is open";
                description = "{{ $labels.service }} is failing fast on calls to {{ $labels.upstream }}.";
              };
            }
          ];
      }
    ];
  };
}
