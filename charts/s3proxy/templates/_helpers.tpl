{{/* Names and labels shared by every manifest. */}}

{{- define "s3proxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "s3proxy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "s3proxy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "s3proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "s3proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "s3proxy.labels" -}}
helm.sh/chart: {{ include "s3proxy.chart" . }}
{{ include "s3proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "s3proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "s3proxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pods mount: the user's existing one, or the chart's. */}}
{{- define "s3proxy.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "s3proxy.fullname" . }}
{{- end }}
{{- end }}

{{- define "s3proxy.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The configuration file: the user's `config` with the listen addresses and ports forced to what
the probes and Services use.
*/}}
{{- define "s3proxy.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $server := default dict $config.server }}
{{- $_ := set $server "host" "0.0.0.0" }}
{{- $_ := set $server "port" (int .Values.ports.s3) }}
{{- $_ := set $server "admin_host" "0.0.0.0" }}
{{- $_ := set $server "admin_port" (int .Values.ports.admin) }}
{{- if not (hasKey $server "readiness_timeout") }}
{{- $_ := set $server "readiness_timeout" (include "s3proxy.readinessTimeout" . | float64) }}
{{- end }}
{{- $_ := set $config "server" $server }}
{{- toYaml $config }}
{{- end }}

{{/* server.readiness_timeout when `config` does not set it: 1 s less than the readiness
probe's timeout (0.5 s under a 1-s probe), so that an upstream slower than it fails /readyz with
its condition named, before the kubelet gives up on the probe, rather than timing the probe out
now and then. A value in `config` is kept as written (s3proxy.readinessProbeTimeout then moves
the probe's timeout above it). */}}
{{- define "s3proxy.readinessTimeout" -}}
{{- $probe := int .Values.probes.readiness.timeoutSeconds }}
{{- if gt $probe 1 }}{{ sub $probe 1 }}{{ else }}0.5{{ end }}
{{- end }}

{{/* The readiness probe's timeoutSeconds: probes.readiness.timeoutSeconds, raised to 1 s above
a server.readiness_timeout set in `config` that does not fit below it (whole seconds, rounded
up), so the kubelet never gives up on a probe s3proxy is still answering. */}}
{{- define "s3proxy.readinessProbeTimeout" -}}
{{- $probe := int .Values.probes.readiness.timeoutSeconds }}
{{- $server := default dict .Values.config.server }}
{{- if hasKey $server "readiness_timeout" }}
{{- $needed := add (ceil (float64 $server.readiness_timeout) | int) 1 }}
{{- if lt $probe $needed }}{{ $probe = $needed }}{{ end }}
{{- end }}
{{- $probe }}
{{- end }}

{{/* server.shutdown_timeout (s3proxy's default 30 s), rounded up to whole seconds. */}}
{{- define "s3proxy.shutdownTimeout" -}}
{{- $server := default dict .Values.config.server }}
{{- $timeout := 30.0 }}
{{- if hasKey $server "shutdown_timeout" }}{{ $timeout = float64 $server.shutdown_timeout }}{{ end }}
{{- ceil $timeout | int }}
{{- end }}

{{/* server.drain_delay (s3proxy's default 0 s: serving on after SIGTERM while /readyz fails),
rounded up to whole seconds. */}}
{{- define "s3proxy.drainDelay" -}}
{{- $server := default dict .Values.config.server }}
{{- $delay := 0.0 }}
{{- if hasKey $server "drain_delay" }}{{ $delay = float64 $server.drain_delay }}{{ end }}
{{- ceil $delay | int }}
{{- end }}

{{/* SIGKILL only after the preStop sleep and the whole drain have had their time: the
drain_delay s3proxy keeps serving after SIGTERM, then shutdown_timeout for in-flight requests. */}}
{{- define "s3proxy.terminationGracePeriodSeconds" -}}
{{- add (include "s3proxy.drainDelay" . | int) (include "s3proxy.shutdownTimeout" . | int) (int .Values.lifecycle.preStopSleepSeconds) (int .Values.lifecycle.extraGraceSeconds) }}
{{- end }}

{{/* Processes serving the S3 port, as s3proxy counts them for `server.workers: auto`: the
container's CPU limit rounded up; 16 when there is none (the node's CPUs are unknown here). */}}
{{- define "s3proxy.workers" -}}
{{- $server := default dict .Values.config.server }}
{{- $workers := toString (default "auto" $server.workers) }}
{{- if ne $workers "auto" }}{{ int $workers }}
{{- else }}
{{- $cpu := toString (dig "limits" "cpu" "" (default dict .Values.resources)) }}
{{- if eq $cpu "" }}16
{{- else if hasSuffix "m" $cpu }}{{ max 1 (ceil (divf (trimSuffix "m" $cpu | float64) 1000) | int) }}
{{- else }}{{ max 1 (ceil (float64 $cpu) | int) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The /tmp emptyDir's sizeLimit: tmp.sizeLimit, else room for every process's metrics files
(values.yaml `tmp`). */}}
{{- define "s3proxy.tmpSizeLimit" -}}
{{- if .Values.tmp.sizeLimit }}{{ .Values.tmp.sizeLimit }}
{{- else }}
{{- $processes := add (include "s3proxy.workers" . | int) 2 }}
{{- printf "%dMi" (add 32 (mul $processes (int .Values.tmp.metricsMiPerProcess))) }}
{{- end }}
{{- end }}
