{{/* Labels as the community chart writes them. */}}
{{- define "dify.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dify.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dify.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
A Dify component's Deployment, labelled component=<name> like the community
chart's. Arguments: a list of the root context, the component label, its
values block, its image and (optional) the name of a ConfigMap for envFrom.
*/}}
{{- define "dify.deployment" -}}
{{- $root := index . 0 -}}
{{- $comp := index . 1 -}}
{{- $v := index . 2 -}}
{{- $image := index . 3 -}}
{{- $config := "" -}}
{{- if gt (len .) 4 }}{{ $config = index . 4 }}{{ end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $root.Release.Name }}-{{ $comp }}
  labels:
    {{- include "dify.labels" $root | nindent 4 }}
    component: {{ $comp }}
spec:
  replicas: {{ if hasKey $v "replicas" }}{{ $v.replicas }}{{ else }}1{{ end }}
  selector:
    matchLabels:
      {{- include "dify.selectorLabels" $root | nindent 6 }}
      component: {{ $comp }}
  {{- with $v.updateStrategy }}
  strategy: {{- toYaml . | nindent 4 }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "dify.selectorLabels" $root | nindent 8 }}
        component: {{ $comp }}
    spec:
      containers:
        - name: {{ $comp }}
          image: "{{ $image.repository }}:{{ $image.tag }}"
          {{- with $v.extraEnv }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- if $config }}
          envFrom:
            - configMapRef:
                name: {{ $config }}
          {{- end }}
          resources:
            {{- toYaml ($v.resources | default dict) | nindent 12 }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
