// Values a citizen would type, keyed by the field's data path with list
// indices removed ("dogs.certificateNumber"), falling back to the last
// path segment ("givenName"). Functions get the item index.

const iso = (d) => d.toISOString().slice(0, 10);
function yearsAgo(y, extraDays = 0) {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() - y);
  d.setUTCDate(d.getUTCDate() - extraDays);
  return iso(d);
}

const common = {
  givenName: 'Jürgen',
  familyName: 'Müller-Lüdenscheidt',
  birthDate: '1985-04-12',
  street: 'Hauptstraße',
  houseNumber: '12a',
  postalCode: '65719',
  city: 'Hofheim am Taunus',
  email: 'juergen.mueller@example.org',
  phone: '06192 123456',
  consent: true,
};

const perService = {
  hundesteuer: {
    municipality: 'hofheim',
    // Two dogs: a labrador, and a listed breed whose permit number field
    // only appears once the breed is known.
    'dogs.name': (i) => ['Bello', 'Rex', 'Luna', 'Max', 'Emma'][i] ?? `Hund ${i + 1}`,
    'dogs.breed': (i) => (i === 1 ? 'rottweiler' : 'labrador-retriever'),
    'dogs.breedText': 'Labrador-Pudel-Mischling',
    'dogs.birthDate': () => yearsAgo(3),
    'dogs.chipNumber': (i) => `27609810654321${i}`,
    'dogs.certificateNumber': 'OA-2025-0815',
    expertiseDate: () => yearsAgo(1),
    startDate: () => iso(new Date()),
  },
  'kita-gebuehren': {
    'children.name': (i) => ['Lina', 'Jonas', 'Mia'][i] ?? `Kind ${i + 1}`,
    'children.birthDate': () => yearsAgo(4),
    'children.careType': 'kindergarten',
    'children.monthlyFee': '250',
    income: '24000',
    iban: 'DE89370400440532013000',
  },
  ferienbetreuung: {
    country: 'DE',
    residence: 'HE',
    meetingPoint: 'bh-marxheim',
    'child.givenName': 'Lotta',
    'child.familyName': 'Müller',
    // 6 to 14 on the first day of the holidays
    'child.birthDate': () => yearsAgo(9),
    // a multiple choice: the options to tick
    activities: ['sport', 'kunst'],
  },
  geburtsurkunde: {
    'applicant.birthDate': '1985-04-12',
    'subject.givenName': 'Gertrud',
    'subject.familyName': 'Müller',
    'subject.birthDate': '1956-09-30',
    'subject.birthName': 'Schäfer',
    'subject.birthPlace': 'Bad Soden am Taunus',
    relationship: 'kind',
    reason: 'Ich benötige die Urkunde für das Erbscheinsverfahren meiner Mutter.',
    certificateType: 'geburtsurkunde',
    copies: '2',
    delivery: 'post',
  },
};

// parseName splits a control's name into its data path (without list
// indices) and the first list index: "dogs[1].breed", "dogs.1.breed" and
// "dogs-1-breed" all give {path: "dogs.breed", index: 1}.
export function parseName(name) {
  const segs = String(name).split(/[.\[\]\-/]+/).filter(Boolean);
  let index = 0;
  let seen = false;
  const path = [];
  for (const s of segs) {
    if (/^\d+$/.test(s)) {
      if (!seen) { index = Number(s); seen = true; }
    } else path.push(s);
  }
  return { path: path.join('.'), index, hasIndex: seen };
}

const dateParts = { day: 2, tag: 2, month: 1, monat: 1, year: 0, jahr: 0 };

// valueFor returns the value for a control, or undefined when it does not
// know one (the caller then falls back on the input type).
export function valueFor(service, name) {
  const { path, index } = parseName(name);
  const table = { ...common, ...(perService[service] || {}) };
  const segs = path.split('.');
  let part;
  const last = segs[segs.length - 1]?.toLowerCase();
  if (segs.length > 1 && last in dateParts) {
    part = dateParts[last];
    segs.pop();
  }
  const keys = [segs.join('.'), segs.slice(1).join('.'), segs[segs.length - 1]];
  for (const k of keys) {
    if (k && Object.prototype.hasOwnProperty.call(table, k)) {
      let v = table[k];
      if (typeof v === 'function') v = v(index);
      if (part !== undefined) v = String(Number(String(v).split('-')[part]));
      return v;
    }
  }
  return undefined;
}

export function fallbackFor(type) {
  switch (type) {
    case 'email': return 'test@example.org';
    case 'tel': return '06192 123456';
    case 'date': return '2020-01-01';
    case 'number': return '1';
    case 'url': return 'https://example.org';
    default: return 'Testwert';
  }
}

// A tiny JPEG (1×1 pixel), for file inputs that accept only images.
export const tinyJPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
  'base64');

// A tiny valid PDF, for file inputs.
export const tinyPDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
  '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');
