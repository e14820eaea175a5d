{{/*
_helpers.tpl — names, labels and addresses every template shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "trove.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object name: fullnameOverride, else <release>-<name>
(just <release> when it already contains the name). DNS labels stop at 63
characters; room is kept for the longest suffix ("-operator-secrets"). */}}
{{- define "trove.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "trove.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "trove.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "trove.labels" -}}
helm.sh/chart: {{ include "trove.chart" . }}
app.kubernetes.io/name: {{ include "trove.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: trove
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "server"). */}}
{{- define "trove.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trove.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects. */}}
{{- define "trove.componentLabels" -}}
{{ include "trove.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "trove.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "trove.serverServiceAccountName" -}}
{{- if .Values.server.serviceAccount.create -}}
{{- default (printf "%s-server" (include "trove.fullname" .)) .Values.server.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.server.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "trove.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "trove.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The headless Service that gives each server pod its DNS name. */}}
{{- define "trove.headlessName" -}}
{{- printf "%s-internal" (include "trove.fullname" .) -}}
{{- end -}}

{{- define "trove.tlsEnabled" -}}
{{- if ne .Values.server.tls.mode "disabled" -}}true{{- end -}}
{{- end -}}

{{- define "trove.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "trove.fullname" .)) .Values.server.tls.secretName -}}
{{- end -}}

{{- define "trove.scheme" -}}
{{- if include "trove.tlsEnabled" . -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{/* The Service's in-cluster DNS name. */}}
{{- define "trove.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "trove.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* The address clients in the cluster use: the Service. */}}
{{- define "trove.serviceAddress" -}}
{{- printf "%s://%s:%d" (include "trove.scheme" .) (include "trove.serviceHost" .) (int .Values.server.service.port) -}}
{{- end -}}

{{/* One server pod's DNS name: (dict "ctx" $ "pod" "<name>"). */}}
{{- define "trove.podHost" -}}
{{- printf "%s.%s.%s.svc.%s" .pod (include "trove.headlessName" .ctx) .ctx.Release.Namespace .ctx.Values.clusterDomain -}}
{{- end -}}
