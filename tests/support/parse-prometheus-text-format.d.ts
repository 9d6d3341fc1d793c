/** Types of parse-prometheus-text-format 1.x (it ships none): prom2json-shaped metric families; throws on a bad line. */
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
