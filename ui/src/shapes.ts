// One WebGL node program for every Scope shape: the fragment shader draws the node's shape as a
// signed distance field, so circles, squares, hexagons, heptagons, octagons, triangles and
// clouds share one draw call. Stacks (groups) get an outer outline; pseudo nodes are hollow.
import { NodeProgram } from "sigma/rendering";
import type { NodeDisplayData, RenderParams } from "sigma/types";
import { floatColor } from "sigma/utils";
import type { ProgramInfo } from "sigma/rendering";

export const SHAPES: Record<string, number> = {
  circle: 0,
  square: 1,
  hexagon: 2,
  heptagon: 3,
  octagon: 4,
  triangle: 5,
  cloud: 6,
  pentagon: 7,
  diamond: 8,
};

/** Style bits: 1 = stack, 2 = pseudo (hollow). */
export function styleBits(stack?: boolean, pseudo?: boolean): number {
  return (stack ? 1 : 0) + (pseudo ? 2 : 0);
}

const VERTEX = /*glsl*/ `
attribute vec4 a_id;
attribute vec4 a_color;
attribute vec2 a_position;
attribute float a_size;
attribute float a_shape;
attribute float a_style;
attribute float a_angle;

uniform mat3 u_matrix;
uniform float u_sizeRatio;
uniform float u_correctionRatio;

varying vec4 v_color;
varying vec2 v_diff;
varying float v_radius;
varying float v_shape;
varying float v_style;

const float bias = 255.0 / 254.0;

void main() {
  float size = a_size * u_correctionRatio / u_sizeRatio * 4.0;
  vec2 diff = size * vec2(cos(a_angle), sin(a_angle));
  gl_Position = vec4((u_matrix * vec3(a_position + diff, 1)).xy, 0, 1);
  v_diff = diff;
  v_radius = size / 2.0;
  v_shape = a_shape;
  v_style = a_style;
  #ifdef PICKING_MODE
  v_color = a_id;
  #else
  v_color = a_color;
  #endif
  v_color.a *= bias;
}
`;

const FRAGMENT = /*glsl*/ `
precision highp float;

varying vec4 v_color;
varying vec2 v_diff;
varying float v_radius;
varying float v_shape;
varying float v_style;

uniform float u_correctionRatio;

const float PI = 3.14159265;

float polygon(vec2 p, float r, float n, float turn) {
  float a = atan(p.y, p.x) + turn;
  float s = 2.0 * PI / n;
  return cos(floor(0.5 + a / s) * s - a) * length(p) - r * cos(PI / n);
}

float circle(vec2 p, vec2 c, float r) {
  return length(p - c) - r;
}

float shape(vec2 p, float r) {
  if (v_shape < 0.5) return length(p) - r;
  if (v_shape < 1.5) { vec2 q = abs(p); return max(q.x, q.y) - r * 0.8; }
  if (v_shape < 2.5) return polygon(p, r, 6.0, 0.0);
  if (v_shape < 3.5) return polygon(p, r, 7.0, PI / 2.0);
  if (v_shape < 4.5) return polygon(p, r, 8.0, PI / 8.0);
  if (v_shape < 5.5) return polygon(p * 1.25 + vec2(0.0, r * 0.2), r, 3.0, PI / 2.0);
  if (v_shape < 6.5) {
    float d = circle(p, vec2(-0.38 * r, -0.12 * r), 0.5 * r);
    d = min(d, circle(p, vec2(0.38 * r, -0.12 * r), 0.5 * r));
    d = min(d, circle(p, vec2(0.0, 0.2 * r), 0.6 * r));
    return d;
  }
  if (v_shape < 7.5) return polygon(p, r, 5.0, PI / 2.0);
  return polygon(p, r, 4.0, 0.0);
}

void main(void) {
  float aa = u_correctionRatio * 2.0;
  float r = v_radius - aa;
  bool stack = mod(v_style, 2.0) > 0.5;
  bool pseudo = v_style > 1.5;
  float inner = stack ? shape(v_diff, r * 0.72) : shape(v_diff, r);

  #ifdef PICKING_MODE
  gl_FragColor = shape(v_diff, r) > 0.0 ? vec4(0.0) : v_color;
  #else
  float fill = 1.0 - clamp(inner / aa + 0.5, 0.0, 1.0);
  if (pseudo) {
    float ring = 1.0 - clamp((abs(inner + aa * 1.2) - aa * 1.2) / aa + 0.5, 0.0, 1.0);
    fill = max(fill * 0.18, ring);
  }
  if (stack) {
    float outer = shape(v_diff, r);
    float ring = 1.0 - clamp((abs(outer + aa) - aa) / aa + 0.5, 0.0, 1.0);
    fill = max(fill, ring);
  }
  // sigma blends premultiplied colours.
  float a = v_color.a * fill;
  gl_FragColor = vec4(v_color.rgb * a, a);
  #endif
}
`;

const { UNSIGNED_BYTE, FLOAT } = WebGLRenderingContext;
const UNIFORMS = ["u_sizeRatio", "u_correctionRatio", "u_matrix"] as const;

export class NodeShapeProgram extends NodeProgram<(typeof UNIFORMS)[number]> {
  getDefinition() {
    return {
      VERTICES: 3,
      VERTEX_SHADER_SOURCE: VERTEX,
      FRAGMENT_SHADER_SOURCE: FRAGMENT,
      METHOD: WebGLRenderingContext.TRIANGLES,
      UNIFORMS,
      ATTRIBUTES: [
        { name: "a_position", size: 2, type: FLOAT },
        { name: "a_size", size: 1, type: FLOAT },
        { name: "a_color", size: 4, type: UNSIGNED_BYTE, normalized: true },
        { name: "a_id", size: 4, type: UNSIGNED_BYTE, normalized: true },
        { name: "a_shape", size: 1, type: FLOAT },
        { name: "a_style", size: 1, type: FLOAT },
      ],
      CONSTANT_ATTRIBUTES: [{ name: "a_angle", size: 1, type: FLOAT }],
      CONSTANT_DATA: [[0], [(2 * Math.PI) / 3], [(4 * Math.PI) / 3]],
    };
  }

  processVisibleItem(nodeIndex: number, startIndex: number, data: NodeDisplayData): void {
    const array = this.array;
    const d = data as NodeDisplayData & { shapeCode?: number; styleBits?: number };
    array[startIndex++] = data.x;
    array[startIndex++] = data.y;
    array[startIndex++] = data.size;
    array[startIndex++] = floatColor(data.color);
    array[startIndex++] = nodeIndex;
    array[startIndex++] = d.shapeCode ?? 0;
    array[startIndex++] = d.styleBits ?? 0;
  }

  setUniforms(params: RenderParams, { gl, uniformLocations }: ProgramInfo): void {
    gl.uniform1f(uniformLocations.u_correctionRatio, params.correctionRatio);
    gl.uniform1f(uniformLocations.u_sizeRatio, params.sizeRatio);
    gl.uniformMatrix3fv(uniformLocations.u_matrix, false, params.matrix);
  }
}
