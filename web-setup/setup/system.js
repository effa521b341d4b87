// The system view: software version, the log as a file, reboot, factory reset.
import { $, action, api, fillList, say } from './api.js';

export async function open() {
  const [v, s] = await Promise.all([api('GET', '/api/version'), api('GET', '/api/status')]);
  fillList($('system-list'), [
    ['Mã hộp · Box id', s.boxId, null],
    ['Phiên bản · Version', v.version, null],
    ['Node.js', v.node, null],
  ]);
}

/** `unclaimed()` runs after a factory reset: the page goes back to the claim step. */
export function wire(unclaimed) {
  action($('reboot'), async () => {
    if (!confirm('Khởi động lại hộp? Cuộc họp đang diễn ra sẽ bị ngắt. · Reboot the box?')) return;
    await api('POST', '/api/reboot');
    say('Hộp đang khởi động lại; trang sẽ dùng lại được sau khoảng 1 phút. · Rebooting: back in about a minute.', true);
  });
  action($('factory-reset'), async () => {
    if (!confirm('Xóa mật khẩu quản trị? Cần mã mới trên TV để nhận lại hộp. Các cài đặt khác giữ nguyên. · Forget the admin password?')) return;
    await api('POST', '/api/factory-reset');
    say('Đã xóa. Nhập mã mới trên TV để nhận lại hộp. · Done: claim it again with the new code on the TV.', true);
    await unclaimed();
  });
}
