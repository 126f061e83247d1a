# Prometheus alerting rules (the chart's serverFiles."alerting_rules.yml"):
# a service down, its server-error ratio, its p99 latency, an open breaker,
# and the event backbone: outbox lag, dead letters, consumer lag.
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
              # The relay publishes within a second while the broker is up.
              alert = "PlatformOutboxLag";
              expr = "max by (service) (outbox_oldest_pending_seconds) > 60";
              "for" = "5m";
              labels.severity = "warning";
              annotations = {
                summary = "{{ $labels.service }}'s events are not being published";
                description = "{{ $labels.service }}'s oldest unpublished event is {{ $value | humanizeDuration }} old: is NATS reachable? Nothing is lost; events wait in the outbox.";
              };
            }
            {
              alert = "PlatformDeadLetters";
              expr = "sum by (service, consumer) (increase(events_dead_lettered_total[15m])) > 0";
              labels.severity = "warning";
              annotations = {
                summary = "{{ $labels.consumer }} dead-lettered events";
                description = "{{ $labels.consumer }} ({{ $labels.service }}) gave up on {{ $value }} events in 15 minutes. `events dead-letters list --consumer {{ $labels.consumer }}` shows why; replay them once fixed.";
              };
            }
            {
              alert = "PlatformConsumerLag";
              expr = "max by (service, consumer) (events_consumer_pending) > 1000";
              "for" = "10m";
              labels.severity = "warning";
              annotations = {
                summary = "{{ $labels.consumer }} is falling behind";
                description = "{{ $labels.consumer }} ({{ $labels.service }}) has {{ $value }} events waiting in its stream.";
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
