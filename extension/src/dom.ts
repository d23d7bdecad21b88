/**
 * Tiny DOM helpers: build elements without innerHTML, so platform data is never markup.
 */

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { [name: string]: string } = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') {
      node.className = value;
    } else {
      node.setAttribute(name, value);
    }
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

export function button(label: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', { class: 'jp-Platform-button', title, type: 'button' }, label);
  b.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return b;
}

export function statusBadge(status: string): HTMLSpanElement {
  return el('span', { class: `jp-Platform-status jp-Platform-status-${status}` }, status);
}

export function emptyState(text: string): HTMLElement {
  return el('li', { class: 'jp-Platform-empty' }, text);
}
